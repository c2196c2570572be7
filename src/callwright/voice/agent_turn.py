"""What the agent said in one turn, and how much of it the caller actually heard."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from callwright.voice.audio import FRAME_MS
from callwright.voice.playout import Sentence
from callwright.voice.session_types import TranscriptTurn


@dataclass
class AgentTurn:
    """The sentences of one dialogue turn (a greeting, an answer, a voicemail message)."""

    sentences: list[Sentence] = field(default_factory=list)

    def add(self, sentence: Sentence) -> None:
        self.sentences.append(sentence)

    def to_transcript(
        self, stream_ms: Callable[[float], float], now: float, interrupted: bool
    ) -> TranscriptTurn | None:
        """The turn as heard by ``now``; None if nothing was heard. ``stream_ms`` maps a wall
        time to the stream clock.

        Sentences the carrier confirmed count in full, the one playing when the turn was cut
        counts in proportion to its audio played, later ones not at all.
        """
        texts: list[str] = []
        start: float | None = None
        end: float | None = None
        for sentence in self.sentences:
            text = sentence.heard_text(now)
            if not text or sentence.play_start is None:
                continue
            texts.append(text)
            begin = sentence.stream_start_ms
            if begin is None:
                begin = stream_ms(sentence.play_start)
            if start is None:
                start = begin
            heard_ms = sentence.heard_ms(now) if not sentence.confirmed else len(sentence.frames) * FRAME_MS
            end = begin + heard_ms
        if not texts or start is None or end is None:
            return None
        fully_heard = all(s.confirmed for s in self.sentences)
        return TranscriptTurn(
            role="agent",
            text=" ".join(texts),
            start_ms=round(start),
            end_ms=round(end),
            interrupted=interrupted and not fully_heard,
        )
