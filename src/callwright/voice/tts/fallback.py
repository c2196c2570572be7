"""A remote voice with a local voice behind it: when the remote one fails, the call goes on.

:class:`FallbackSynthesizer` speaks with ``primary`` until the first sentence it cannot
speak, then speaks that sentence, and every sentence after it, with ``fallback`` (espeak-ng,
which runs in process and cannot be unreachable). The switch is for the rest of the call: a
provider that failed once is likely to fail again, and a voice that changes back and forth
is worse than one that changes once. ``on_fallback(reason)`` is called once, at the switch,
so the conversation can record why the voice changed.

A failure is a :class:`SynthesisError` (the primary's own, with a timeout for the first audio
and between chunks) or any other exception from the primary. When the primary fails after
it has already produced audio for the sentence, that audio has been handed on and cannot be
taken back: the fallback then speaks the whole sentence again, from its start. The caller
hears the sentence begin, break off and start over in the other voice, which is how a person
corrects themself, and no words are lost. (Resuming mid-sentence would need word timings
that not every provider gives.)

Sentences the primary was already speaking when another one failed (the playout synthesizes
ahead) finish with the primary if they can; a cancelled sentence (barge-in) is not a failure.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable

from callwright.voice.tts.base import SynthesisError, Synthesizer

log = logging.getLogger(__name__)


class FallbackSynthesizer:
    """``primary`` until it fails, then ``fallback`` for the rest of the call; see the module notes."""

    def __init__(
        self, primary: Synthesizer, fallback: Synthesizer, on_fallback: Callable[[str], None] | None = None
    ) -> None:
        self.primary = primary
        self.fallback = fallback
        self.on_fallback = on_fallback
        self.reason: str | None = None  # why the fallback took over; None while the primary speaks

    @property
    def switched(self) -> bool:
        return self.reason is not None

    async def synthesize(self, text: str) -> AsyncIterator[bytes]:
        if self.reason is None:
            try:
                async for pcm in self.primary.synthesize(text):
                    yield pcm
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # any failure of the primary: the fallback speaks instead
                self._switch(exc)
        async for pcm in self.fallback.synthesize(text):
            yield pcm

    def _switch(self, exc: Exception) -> None:
        if self.reason is not None:
            return  # another sentence switched already; report once
        if isinstance(exc, SynthesisError):
            self.reason = str(exc)
            log.warning("voice falls back for the rest of the call: %s", exc)
        else:
            self.reason = f"{type(exc).__name__}: {exc}"
            log.warning("voice falls back for the rest of the call after an unexpected error", exc_info=exc)
        if self.on_fallback is not None:
            try:
                self.on_fallback(self.reason)
            except Exception:  # recording the switch must not cost the sentence
                log.exception("on_fallback failed")
