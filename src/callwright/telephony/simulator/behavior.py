"""What a simulated callee does: the ``simulated_callee`` model and the magic test numbers.

A call body may describe the callee explicitly (``simulated_callee``); without it, the dialed
number picks the behaviour, like Twilio's magic test numbers. The reserved numbers are
+1 555 010 0001 ... 0009, inside the 555-0100..0199 block that is fictional in North America,
so a test can never ring a real phone. Every other number gets the default callee: it
answers and says "yes" whenever the agent waits for an answer. See docs/simulator.md.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, field_validator
from pydantic_core import PydanticCustomError

from callwright.voice.dtmf import MAX_DIGITS

Behavior = Literal["answer", "no_answer", "busy", "voicemail", "fail"]
MenuKeys = Annotated[str, StringConstraints(pattern=rf"^[0-9*#A-Da-d]{{1,{MAX_DIGITS}}}$")]
"""Keys a phone menu can hear (a pause is silence, not a key), stated in the schema."""

DEFAULT_LINE = "yes"
"""What a callee without ``says`` (and without a ``menu``) answers, every time."""
INVALID_OPTION = "Sorry, that is not a valid option."
"""What a phone menu says to digits it has no entry for."""
MAX_PAUSE_MS = 5000
"""The longest pause a line may hold: longer, and a test is waiting for nothing."""

_MARKER = re.compile(r"<([^<>]*)>")
_PAUSE = re.compile(r"^[ \t]*pause[ \t]+([0-9]+(?:\.[0-9]+)?)[ \t]*(ms|s)[ \t]*$")
_SPACE = "[ \t]"
LINE_PATTERN = (
    rf"^(?:[^<>]|<{_SPACE}*[Pp][Aa][Uu][Ss][Ee]{_SPACE}+[0-9]+(?:\.[0-9]+)?{_SPACE}*(?:[Mm][Ss]|[Ss]){_SPACE}*>)*$"
)
"""The marker syntax, stated in the schema (ASCII classes only: JSON Schema's regex dialect and
Python's agree on them). ``split_pauses`` refuses the same lines with a message that shows the
syntax; only the pause limit is checked beyond it (``pause_too_long``)."""
PAUSE_TOO_LONG = "pause_too_long"
_PAUSE_SYNTAX = f"a pause is written <pause 900ms> or <pause 1.5s>, at most {MAX_PAUSE_MS} ms"


def split_pauses(line: str) -> list[str | float]:
    """A line as its spoken pieces and pauses (seconds), in order: "a <pause 900ms> b" is
    ["a", 0.9, "b"]. Raises ``ValueError`` for a malformed marker or a pause over the limit."""
    parts: list[str | float] = []
    at = 0
    for match in _MARKER.finditer(line):
        pause = _PAUSE.match(match.group(1).lower())
        if pause is None:
            raise ValueError(f"unknown marker {match.group(0)!r} in {line!r}: {_PAUSE_SYNTAX}")
        ms = float(pause.group(1)) * (1 if pause.group(2) == "ms" else 1000)
        if ms > MAX_PAUSE_MS:
            raise PydanticCustomError(
                PAUSE_TOO_LONG, "pause {marker} in {line} is too long: {syntax}",
                {"marker": match.group(0), "line": line, "syntax": _PAUSE_SYNTAX},
            )
        if text := line[at : match.start()].strip():
            parts.append(text)
        parts.append(ms / 1000)
        at = match.end()
    if "<" in line[at:] or ">" in line[at:]:
        raise ValueError(f"unclosed marker in {line!r}: {_PAUSE_SYNTAX}")
    if text := line[at:].strip():
        parts.append(text)
    return parts


def _check_line(line: str) -> str:
    split_pauses(line)
    return line


Line = Annotated[str, Field(json_schema_extra={"pattern": LINE_PATTERN}), AfterValidator(_check_line)]
"""A line the callee speaks; it may hold pauses ("555 0123 <pause 900ms> 4567")."""


class SimulatedCallee(BaseModel):
    """The ``simulated_callee`` call-body field (API.md, "The simulated carrier")."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    behavior: Behavior = "answer"
    says: list[Line] = Field(
        default_factory=list,
        description="Lines spoken in order at each answer turn. `<pause 900ms>` inside a line is silence "
        f"(at most {MAX_PAUSE_MS} ms).",
    )
    dtmf: dict[str, str] = Field(
        default_factory=dict,
        description="Digits keyed by flow node name or 0-based answer-turn index; sent instead of speaking.",
    )
    interrupts: bool = False
    silent: bool = False
    menu: dict[MenuKeys, Line] = Field(
        default_factory=dict,
        description=(
            "A phone menu: digits the agent keys in (as tones) mapped to the line said next. "
            "A callee with a menu and no `says` only reacts to digits."
        ),
        json_schema_extra={"additionalProperties": False},  # only keys matching the pattern
    )
    greeting: Line | None = Field(
        default=None,
        description="Spoken as soon as the call connects, before the agent's turn (a phone menu talks first).",
    )
    backchannels: list[Line] = Field(
        default_factory=list,
        description=(
            "Short lines (\"uh-huh\", \"okay\") said over the agent without taking the turn, about 1 s into a "
            "stretch of agent speech that runs that long; each once, in order."
        ),
    )

    @field_validator("menu")
    @classmethod
    def _menu_keys_as_heard(cls, menu: dict[str, str]) -> dict[str, str]:
        """Keys as the callee's detector reports them: A-D upper case."""
        return {key.upper(): line for key, line in menu.items()}

    def backchannel(self, used: int) -> str | None:
        """The backchannel to say next (each once, in order), or None when they are used up: a
        test then knows exactly which stretch of agent speech heard one."""
        return self.backchannels[used] if used < len(self.backchannels) else None

    def line_for_turn(self, lines_used: int) -> str | None:
        """The next line to speak, or None when the script has run out (then it stays silent)."""
        if not self.says:
            return None if self.menu else DEFAULT_LINE
        return self.says[lines_used] if lines_used < len(self.says) else None

    def digits_for_turn(self, node: str, turn: int) -> str | None:
        """Digits to key in at this answer turn: by node name first, then by turn index."""
        if node and node in self.dtmf:
            return self.dtmf[node]
        return self.dtmf.get(str(turn))


# The reserved test numbers (E.164). The voicemail pair differs only in whether the carrier
# reports answering-machine detection, so the engine's own audio detection can be tested.
ANSWER = "+15550100001"
BUSY = "+15550100002"
NO_ANSWER = "+15550100003"
FAIL = "+15550100004"
VOICEMAIL = "+15550100005"
VOICEMAIL_UNDETECTED = "+15550100006"
SILENT = "+15550100007"
INTERRUPTS = "+15550100008"
PHONE_MENU = "+15550100009"

MAGIC_NUMBERS: dict[str, SimulatedCallee] = {
    ANSWER: SimulatedCallee(),
    BUSY: SimulatedCallee(behavior="busy"),
    NO_ANSWER: SimulatedCallee(behavior="no_answer"),
    FAIL: SimulatedCallee(behavior="fail"),
    VOICEMAIL: SimulatedCallee(behavior="voicemail"),
    VOICEMAIL_UNDETECTED: SimulatedCallee(behavior="voicemail"),
    SILENT: SimulatedCallee(silent=True),
    INTERRUPTS: SimulatedCallee(
        interrupts=True, says=["sorry, who is this?", "yes", "yes", "yes", "yes", "yes", "yes"]
    ),
    PHONE_MENU: SimulatedCallee(
        greeting="Thank you for calling Acme Bank. For billing, press 1. For support, press 2.",
        menu={
            "1": "You have reached billing. Please hold for the next agent.",
            "2": "You have reached support. Please hold.",
        },
    ),
}

MACHINE_ANSWERED_BY = "machine_end_beep"
"""Twilio's AnsweredBy value when detection waited for the greeting's beep."""

_NON_DIGITS = re.compile(r"\D")


def normalize_number(number: str) -> str:
    """E.164-ish key for the magic-number table: digits only, NANP 10-digit numbers get +1."""
    digits = _NON_DIGITS.sub("", number)
    if len(digits) == 10:
        digits = "1" + digits
    return "+" + digits


def resolve_behavior(to: str, callee: SimulatedCallee | dict[str, Any] | None) -> SimulatedCallee:
    """The callee for a call: the explicit description wins, then the magic number, then the default.

    Raises ``pydantic.ValidationError`` for a malformed description (unknown field, bad behaviour).
    """
    if isinstance(callee, SimulatedCallee):
        return callee
    if callee is not None:
        return SimulatedCallee.model_validate(callee)
    return MAGIC_NUMBERS.get(normalize_number(to), SimulatedCallee())


def answered_by(to: str, callee: SimulatedCallee) -> str | None:
    """What the carrier reports as AnsweredBy when the call connects.

    ``human`` for a person, ``machine_end_beep`` for a voicemail, and None for the voicemail
    test number that hides it (the engine must then notice the greeting from the audio).
    """
    if callee.behavior == "voicemail":
        return None if normalize_number(to) == VOICEMAIL_UNDETECTED else MACHINE_ANSWERED_BY
    return "human"
