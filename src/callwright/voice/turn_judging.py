"""Asking the turn model, once per pause, whether the caller has finished.

The model runs on its own worker thread (~70 ms); its answer comes back to the session's loop
as a ``TurnJudged`` control, which hands it to the listener (``Listener.judge``). One judgement
is in flight at a time: a new pause makes the previous one stale, so it is cancelled. A model
that fails costs the call nothing but speed: the plain silence rule applies.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass

from callwright.voice.end_of_turn import TurnModel
from callwright.voice.listener import SpeechPaused

log = logging.getLogger("callwright.turns")


@dataclass(frozen=True)
class TurnJudged:
    utterance: int
    pause: int
    probability: float


class TurnJudging:
    """Runs the turn model on the current utterance at each pause."""

    def __init__(self, model: TurnModel, deliver: Callable[[TurnJudged], None]) -> None:
        self._model = model
        self._deliver = deliver
        self._task: asyncio.Task[None] | None = None
        self.judgements = 0
        self.failures = 0

    def paused(self, signal: SpeechPaused, audio: bytes) -> None:
        """Judge ``audio`` (the utterance so far, 8 kHz PCM16) for this pause."""
        self.cancel()
        self._task = asyncio.create_task(self._judge(signal, audio), name="turn-judgement")

    async def _judge(self, signal: SpeechPaused, audio: bytes) -> None:
        try:
            probability = await self._model.complete_probability_8k(audio)
        except asyncio.CancelledError:
            raise
        except Exception:
            self.failures += 1
            log.exception("the turn model failed; this pause ends on silence alone")
            return
        self.judgements += 1
        self._deliver(TurnJudged(signal.utterance, signal.pause, probability))

    def cancel(self) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()
        self._task = None

    async def aclose(self) -> None:
        task, self._task = self._task, None
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
