"""The transcriber seam: audio in, text out, one utterance at a time."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from callwright.domain.expectation import Expectation


@dataclass(frozen=True)
class Transcript:
    text: str
    confidence: float | None = None


class Utterance(Protocol):
    """Recognition of one caller utterance, fed as it is spoken so the result is ready at once."""

    def feed(self, pcm16k: bytes) -> None:
        """Add PCM16 mono 16 kHz audio; must be cheap enough to call per 20 ms frame."""
        ...

    def finish(self) -> Transcript:
        """End the utterance and return the best hypothesis (empty text when nothing was heard)."""
        ...


class Transcriber(Protocol):
    """Creates utterance recognisers, steered by what the dialogue expects."""

    def utterance(self, expect: Expectation | None) -> Utterance: ...
