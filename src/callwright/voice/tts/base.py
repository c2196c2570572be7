"""The synthesizer seam: text in, PCM16 mono 16 kHz out."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Protocol


class Synthesizer(Protocol):
    """Speaks one sentence; yields PCM16 mono 16 kHz chunks as soon as they exist."""

    def synthesize(self, text: str) -> AsyncIterator[bytes]: ...


class SynthesisError(RuntimeError):
    """A remote synthesizer could not speak a sentence: refused, timed out, broke mid-sentence,
    or answered with something that is not audio. ``retryable`` says whether the same request
    may succeed later (a timeout, a dropped connection, a 5xx) or not (a wrong key, a bad voice)."""

    def __init__(self, message: str, *, retryable: bool) -> None:
        super().__init__(message)
        self.retryable = retryable
