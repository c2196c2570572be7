"""The transcriber seam: audio pushed as it arrives, text out asynchronously, one utterance at a time.

A provider declares the audio it takes (``sample_rate``: PCM16 mono at 8 or 16 kHz) so the engine
converts the carrier's audio once, to that rate. An utterance is fed with ``push`` per 20 ms frame
(cheap: it runs on the call's inbound task), may offer ``partial`` text, and is told when the
caller falls silent (``pause``) and speaks again (``resume``) so a slow recogniser can start
decoding as the silence starts and have the text ready when the turn ends; ``request_partial``
asks a provider without streaming partials for the words so far. ``finish`` is a
coroutine: a provider that needs real work (a local model, a network round trip) does it off the
event loop. Every provider failure is a ``TranscriberError``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from callwright.domain.expectation import Expectation


@dataclass(frozen=True)
class Transcript:
    text: str
    confidence: float | None = None


class TranscriberError(RuntimeError):
    """A provider failed: a model that will not load, a service that refused or timed out.

    ``retryable`` says whether the same request may succeed later (a timeout, a 503) or never
    will (a missing or corrupt model, bad credentials).
    """

    def __init__(self, message: str, *, retryable: bool = False) -> None:
        super().__init__(message)
        self.retryable = retryable


class Utterance(Protocol):
    """Recognition of one caller utterance, fed as it is spoken so the result is ready at once."""

    def push(self, pcm: bytes) -> None:
        """Add PCM16 mono audio at the transcriber's ``sample_rate``; cheap enough per 20 ms frame."""
        ...

    def partial(self) -> str | None:
        """Text recognised so far, or None when the provider does not give partial results."""
        ...

    def request_partial(self) -> bool:
        """The engine needs the words now (speech over the agent: an interruption, or only an
        "uh-huh"?). A streaming provider already gives them; one that decodes whole utterances
        may decode what it has so that ``partial`` fills in soon. Returns whether ``partial``
        will offer text for this utterance."""
        ...

    def pause(self) -> None:
        """The caller fell silent (the end-of-turn silence may have begun): a provider may start
        decoding what it has. More audio (the silence) may still be pushed."""
        ...

    def resume(self) -> None:
        """Speech resumed after ``pause``: any decoding started there is out of date."""
        ...

    async def finish(self) -> Transcript:
        """End the utterance and return the best hypothesis (empty text when nothing was heard).

        Never blocks the event loop for long; raises ``TranscriberError``.
        """
        ...

    def close(self) -> None:
        """Abandon the utterance without a result (dropped, or the call ended); idempotent."""
        ...


class Transcriber(Protocol):
    """Creates utterance recognisers, steered by what the dialogue expects."""

    @property
    def sample_rate(self) -> int:
        """The rate of the PCM16 mono audio ``push`` takes: 8000 or 16000."""
        ...

    def utterance(self, expect: Expectation | None) -> Utterance: ...
