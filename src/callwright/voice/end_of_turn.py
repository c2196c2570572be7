"""End of turn: a short silence, the turn model's judgement, and what the dialogue expects.

:func:`end_of_turn` is a pure rule over the silence so far:

- the dialogue's grammar is known to be unsatisfied (a ten-digit number has six so far):
  ``incomplete_silence_ms``, whatever the model says;
- the model says complete (p ≥ ``threshold``) or the dialogue's grammar is already satisfied
  (a yes/no question got "yes", a digit string has its length): ``short_silence_ms``;
- no judgement yet (the model is not installed, or its answer has not arrived):
  ``endpointing_ms``, the agent's plain silence rule;
- the model says incomplete: ``incomplete_silence_ms``, to let the caller finish the thought.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from callwright.voice.grammar_state import GrammarState


@dataclass(frozen=True)
class EndOfTurnOptions:
    """How long a silence ends the caller's turn, depending on what is known about the utterance."""

    short_silence_ms: int = 200
    """Silence that ends the turn when the model judges the utterance complete or the dialogue's
    grammar is already satisfied. Under ~150 ms, a breath between words could end a turn."""

    endpointing_ms: int = 500
    """Silence that ends the turn when there is no judgement: no model installed, or its answer
    has not arrived yet. The agent's plain endpointing setting."""

    incomplete_silence_ms: int = 1500
    """Silence that ends the turn when the model judges the utterance incomplete (the caller is
    mid-sentence or thinking). The caller is never held longer than this."""

    threshold: float = 0.5
    """Probability of "complete" at or above which the model's judgement counts as complete."""

    def __post_init__(self) -> None:
        if not 0 <= self.short_silence_ms <= self.endpointing_ms <= self.incomplete_silence_ms:
            raise ValueError("need 0 <= short_silence_ms <= endpointing_ms <= incomplete_silence_ms")
        if not 0.0 <= self.threshold <= 1.0:
            raise ValueError("threshold must be within [0, 1]")


def required_silence_ms(probability: float | None, grammar: GrammarState, options: EndOfTurnOptions) -> int:
    """The silence after which the turn ends, given the model's judgement (None: none yet) and
    what the words say about the dialogue's expectation (``grammar_state``)."""
    if grammar == "unsatisfied":
        return options.incomplete_silence_ms
    if grammar == "satisfied" or (probability is not None and probability >= options.threshold):
        return options.short_silence_ms
    if probability is None:
        return options.endpointing_ms
    return options.incomplete_silence_ms


def end_of_turn(
    silence_ms: float, probability: float | None, grammar: GrammarState, options: EndOfTurnOptions
) -> bool:
    """Whether ``silence_ms`` of silence after speech ends the caller's turn (see the module doc)."""
    return silence_ms >= required_silence_ms(probability, grammar, options)


class TurnModel(Protocol):
    """The end-of-turn model seam (``SmartTurnDetector``): never blocks the event loop."""

    async def complete_probability_8k(self, pcm8k: bytes) -> float:
        """Probability that the utterance (PCM16 mono at 8 kHz, its last seconds) is complete."""
        ...
