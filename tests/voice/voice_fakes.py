"""Test doubles for the voice engine: a zero-compute synthesizer and a scripted recogniser."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import numpy as np

from callwright.domain.expectation import Expectation
from callwright.voice.stt.base import Transcript

RATE = 16000


def tone(ms: int, freq: float = 440.0, amp: float = 8000.0) -> bytes:
    t = np.arange(RATE * ms // 1000) / RATE
    return (np.sin(2 * np.pi * freq * t) * amp).astype("<i2").tobytes()


class WordToneSynth:
    """Speaks ``ms_per_word`` of tone per word, in 20 ms chunks; counts calls."""

    def __init__(self, ms_per_word: int = 100, fail_on: str | None = None) -> None:
        self.ms_per_word = ms_per_word
        self.fail_on = fail_on
        self.spoken: list[str] = []

    async def synthesize(self, text: str) -> AsyncIterator[bytes]:
        self.spoken.append(text)
        if self.fail_on is not None and self.fail_on in text:
            raise RuntimeError("synth down")
        pcm = tone(self.ms_per_word * max(1, len(text.split())))
        for i in range(0, len(pcm), 640 * 5):
            yield pcm[i : i + 640 * 5]
            await asyncio.sleep(0)


class ScriptedUtterance:
    def __init__(self, owner: ScriptedRecognizer, expect: Expectation | None) -> None:
        self.owner = owner
        self.expect = expect
        self.bytes = 0

        self.pauses = 0
        self.resumes = 0
        self.closed = False
        self.words: str | None = owner.partials.pop(0) if owner.partials else None
        self.revealed: str | None = None

    def push(self, pcm16k: bytes) -> None:
        self.bytes += len(pcm16k)

    def partial(self) -> str | None:
        return self.revealed

    def request_partial(self) -> bool:
        self.revealed = self.words
        return self.words is not None

    def pause(self) -> None:
        self.pauses += 1
        self.owner.pauses += 1
        self.revealed = self.words

    def resume(self) -> None:
        self.resumes += 1
        self.owner.resumes += 1
        self.revealed = None

    async def finish(self) -> Transcript:
        self.owner.fed_ms.append(self.bytes // 32)
        text = self.owner.texts.pop(0) if self.owner.texts else ""
        if self.owner.delay_s:
            await asyncio.sleep(self.owner.delay_s)  # a slow recogniser, off the event loop
        return Transcript(text, 0.9)

    def close(self) -> None:
        self.closed = True


class ScriptedRecognizer:
    """Returns the scripted texts in order, one per utterance; records what it was given."""

    sample_rate = RATE

    def __init__(
        self, texts: list[str] | None = None, delay_s: float = 0.0, partials: list[str] | None = None
    ) -> None:
        """``partials``: per utterance, the words ``partial`` gives once paused or asked."""
        self.texts = list(texts or [])
        self.partials = list(partials or [])
        self.delay_s = delay_s
        self.expects: list[Expectation | None] = []
        self.fed_ms: list[int] = []
        self.pauses = 0
        self.resumes = 0

    def utterance(self, expect: Expectation | None) -> ScriptedUtterance:
        self.expects.append(expect)
        return ScriptedUtterance(self, expect)
