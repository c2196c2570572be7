"""Whether the words heard so far already answer what the dialogue expects.

Half of "what the dialogue expects" in the end-of-turn rule (DESIGN.md, "Rules of the house" 5):
a yes/no question that heard "yes", or a choice that heard one option, needs no long silence to
be sure the caller is done; a ten-digit number that has six digits so far is surely not done,
whatever the silence or the turn model say. Open answers (text, numbers, dates) have no such
certainty either way: "five" may become "five hundred", so they are left to the model.
"""

from __future__ import annotations

from typing import Literal

from callwright.dialogue.answers import parse_choice, parse_digits, parse_yes_no
from callwright.dialogue.base import UserInput
from callwright.domain.expectation import Expectation

GrammarState = Literal["satisfied", "unsatisfied", "unknown"]


def words_decide(expect: Expectation | None) -> bool:
    """Whether the words can settle this expectation either way (then the turn model alone must
    not end the turn before they are known: "five five five" of a ten-digit number)."""
    return expect is not None and (
        expect.kind in ("yes_no", "choice") or (expect.kind == "digits" and expect.length is not None)
    )


def grammar_state(expect: Expectation | None, text: str | None) -> GrammarState:
    """``satisfied``: the answer is complete; ``unsatisfied``: it is known to be incomplete;
    ``unknown``: no text yet, or an answer whose completeness the words cannot tell."""
    if expect is None or text is None or not text.strip():
        return "unknown"
    user = UserInput(text=text)
    if expect.kind == "yes_no":
        return "satisfied" if parse_yes_no(user) is not None else "unknown"
    if expect.kind == "choice":
        return "satisfied" if parse_choice(user, expect.choices) is not None else "unknown"
    if expect.kind == "digits" and expect.length is not None:
        digits = parse_digits(user) or ""
        if len(digits) >= expect.length:
            return "satisfied"
        return "unsatisfied"
    return "unknown"
