"""A remote recogniser with the embedded one behind it: when the remote one fails, the call goes on.

:class:`FallbackTranscriber` sends each utterance to ``primary`` (a network service) and keeps
the utterance's audio as well, which costs a copy of the PCM and nothing else (the fallback does
no work while the primary is well). When the primary fails the utterance (``finish`` raises,
or ``utterance``/``push`` did), the kept audio is replayed into an utterance of ``fallback`` (the
embedded recogniser, which cannot be unreachable) and its result is the utterance's result: the
caller's words are not lost, only delayed by the failure and the replay. From then on every
utterance goes to the fallback directly, for the rest of the call: a service that failed once is
likely to fail again, and each failure costs the caller a wait (a hung service costs its
``timeout_s``). ``on_fallback(reason)`` is called once, at the switch, so the conversation can
record why recognition changed.

Audio is pushed at the primary's ``sample_rate`` (that is the rate this transcriber declares).
When the fallback takes another rate, its audio is resampled (:class:`Resampler`) on the way,
for the replay and for the utterances after the switch. The replay is fed in slices of
``REPLAY_SLICE_MS``, yielding to the event loop between them, so a long utterance decoded by an
embedded recogniser does not stall the other calls for the whole of its decoding.

A cancelled ``finish`` (barge-in, the call ended) is not a failure. Anything the primary raises
counts as one (a ``TranscriberError`` or a bug in a provider), as with the voice's fallback.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from callwright.domain.expectation import Expectation
from callwright.voice.audio import Resampler
from callwright.voice.stt.base import Transcriber, TranscriberError, Transcript, Utterance

log = logging.getLogger(__name__)

REPLAY_SLICE_MS = 200
MAX_KEPT_S = 120.0  # audio kept for a replay, per utterance; past it the replay has the start only


class FallbackTranscriber:
    """``primary`` until it fails, then ``fallback`` for the rest of the call; see the module notes."""

    def __init__(
        self, primary: Transcriber, fallback: Transcriber, on_fallback: Callable[[str], None] | None = None
    ) -> None:
        self.primary = primary
        self.fallback = fallback
        self.on_fallback = on_fallback
        self.reason: str | None = None  # why the fallback took over; None while the primary serves

    @property
    def switched(self) -> bool:
        return self.reason is not None

    @property
    def sample_rate(self) -> int:
        return self.primary.sample_rate

    def utterance(self, expect: Expectation | None) -> Utterance:
        if self.reason is None:
            try:
                return _KeptUtterance(self, self.primary.utterance(expect), expect)
            except Exception as exc:
                self.switch(exc)
        return self.fallback_utterance(expect)

    def fallback_utterance(self, expect: Expectation | None) -> Utterance:
        """An utterance of the fallback that takes audio at this transcriber's rate."""
        inner = self.fallback.utterance(expect)
        if self.fallback.sample_rate == self.sample_rate:
            return inner
        return _ResampledUtterance(inner, Resampler(self.sample_rate, self.fallback.sample_rate))

    def switch(self, exc: BaseException) -> None:
        """Hand recognition to the fallback for the rest of the call (once; later calls do nothing)."""
        if self.reason is not None:
            return
        if isinstance(exc, TranscriberError):
            self.reason = str(exc)
            log.warning("speech recognition falls back for the rest of the call: %s", exc)
        else:
            self.reason = f"{type(exc).__name__}: {exc}"
            log.warning(
                "speech recognition falls back for the rest of the call after an unexpected error", exc_info=exc
            )
        if self.on_fallback is not None:
            try:
                self.on_fallback(self.reason)
            except Exception:  # recording the switch must not cost the utterance
                log.exception("on_fallback failed")


class _KeptUtterance:
    """The primary's utterance, with its audio kept for a replay into the fallback."""

    def __init__(self, owner: FallbackTranscriber, primary: Utterance, expect: Expectation | None) -> None:
        self._owner = owner
        self._primary = primary
        self._expect = expect
        self._kept = bytearray()
        self._max_kept = int(2 * owner.sample_rate * MAX_KEPT_S)
        self._failure: BaseException | None = None  # the primary failed before finish
        self._closed = False

    def push(self, pcm: bytes) -> None:
        if self._closed:
            return
        if len(self._kept) < self._max_kept:
            self._kept += pcm
        if self._failure is None:
            try:
                self._primary.push(pcm)
            except Exception as exc:  # reported at finish, where the fallback takes the utterance
                self._failure = exc

    def partial(self) -> str | None:
        if self._failure is not None:
            return None
        try:
            return self._primary.partial()
        except Exception:
            log.exception("the primary recogniser's partial text failed")
            return None

    def request_partial(self) -> bool:
        if self._failure is not None or self._closed:
            return False
        try:
            return self._primary.request_partial()
        except Exception:
            log.exception("asking the primary recogniser for partial text failed")
            return False

    def pause(self) -> None:
        self._guard(self._primary.pause)

    def resume(self) -> None:
        self._guard(self._primary.resume)

    def _guard(self, call: Callable[[], None]) -> None:
        if self._failure is None and not self._closed:
            try:
                call()
            except Exception as exc:
                self._failure = exc

    async def finish(self) -> Transcript:
        if self._closed:
            raise TranscriberError("utterance already finished")
        failure = self._failure
        if failure is None:
            try:
                transcript = await self._primary.finish()
            except asyncio.CancelledError:
                self.close()
                raise
            except Exception as exc:
                failure = exc
            else:
                self.close()
                return transcript
        self._closed = True
        self._primary.close()
        kept, self._kept = bytes(self._kept), bytearray()
        self._owner.switch(failure)
        return await _replay(self._owner.fallback_utterance(self._expect), kept, self._owner.sample_rate)

    def close(self) -> None:
        if self._closed and not self._kept:
            return
        self._closed = True
        self._kept = bytearray()
        try:
            self._primary.close()
        except Exception:
            log.exception("closing the primary recogniser's utterance failed")


async def _replay(utterance: Utterance, pcm: bytes, rate: int) -> Transcript:
    """Feed ``pcm`` to ``utterance`` a slice at a time, yielding between slices, and finish it."""
    step = 2 * rate * REPLAY_SLICE_MS // 1000
    try:
        for i in range(0, len(pcm), step):
            utterance.push(pcm[i : i + step])
            await asyncio.sleep(0)
        return await utterance.finish()
    finally:
        utterance.close()


class _ResampledUtterance:
    """An utterance fed at another rate than it takes: each push is resampled on the way."""

    def __init__(self, inner: Utterance, resampler: Resampler) -> None:
        self._inner = inner
        self._resampler = resampler

    def push(self, pcm: bytes) -> None:
        if out := self._resampler.process(pcm):
            self._inner.push(out)

    def partial(self) -> str | None:
        return self._inner.partial()

    def request_partial(self) -> bool:
        return self._inner.request_partial()

    def pause(self) -> None:
        self._inner.pause()

    def resume(self) -> None:
        self._inner.resume()

    async def finish(self) -> Transcript:
        if tail := self._resampler.flush():
            self._inner.push(tail)
        return await self._inner.finish()

    def close(self) -> None:
        self._inner.close()
