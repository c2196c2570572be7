"""The seam between the voice engine (or text chat) and whatever decides what the agent says.

A dialogue yields events. ``Say``, ``Listen`` and ``End`` are the conversation; the rest are
actions the session carries out (``PressDigits``, ``Transfer``) or records (``ToolStarted``,
``ToolFinished``), so the transcript, the latency record and webhooks see every tool call.
After every agent turn, interrupted or not, the session calls ``heard`` with the words the
caller actually heard (the carrier's marks decide): that, not what was generated, is history.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from callwright.domain.expectation import Expectation

ToolKind = Literal["http", "end_call", "transfer_call", "press_digits"]


@dataclass(frozen=True)
class UserInput:
    """One caller turn: what the transcriber heard and/or the DTMF digits pressed."""

    text: str = ""
    dtmf: str = ""
    confidence: float | None = None


@dataclass(frozen=True)
class Say:
    """A piece of agent speech (a whole text or a streamed fragment); ``node`` names the flow
    node (or turn) it belongs to."""

    text: str
    node: str | None = None
    complete: bool = True
    """False for a streamed fragment (LLM tokens): more of the same text may follow, so a
    sentence end inside it is not final until the next fragment or the turn's end."""


@dataclass(frozen=True)
class Listen:
    """The agent has finished speaking and waits for the caller."""

    expect: Expectation
    node: str | None = None


@dataclass(frozen=True)
class End:
    """The agent hangs up once its words have played; ``outcome`` goes into the results."""

    outcome: str
    reason: str = "agent_hangup"


@dataclass(frozen=True)
class Transfer:
    """Cold transfer: once the words before it have played, the carrier connects the caller to
    ``to`` (E.164, already validated) and the agent's leg ends."""

    to: str
    outcome: str = "transferred"


@dataclass(frozen=True)
class PressDigits:
    """Key DTMF digits (played in-band, after the words before them)."""

    digits: str


@dataclass(frozen=True)
class ToolStarted:
    """The model asked for a tool; ``call_id`` pairs it with its ``ToolFinished``."""

    call_id: str
    name: str
    kind: ToolKind
    arguments: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ToolFinished:
    """A tool's outcome as the model was told it (``result`` is JSON-safe and bounded)."""

    call_id: str
    name: str
    ok: bool
    result: Any = None
    duration_ms: float = 0.0


DialogueEvent = Say | Listen | End | Transfer | PressDigits | ToolStarted | ToolFinished
TurnEnd = Listen | End | Transfer
"""The events that close a turn."""


class Dialogue(Protocol):
    """Decides what the agent says. One instance per conversation.

    ``start`` yields the greeting; ``respond`` yields the reaction to one caller turn. Both end
    with a ``Listen``, ``End`` or ``Transfer``. ``heard`` corrects the last agent turn to what the
    caller heard. ``results`` holds the answers saved so far; ``snapshot`` is JSON-safe state
    (text chat resumes a conversation from it across requests).
    """

    results: dict[str, Any]

    def start(self) -> AsyncIterator[DialogueEvent]: ...

    def respond(self, user: UserInput) -> AsyncIterator[DialogueEvent]: ...

    def heard(self, text: str, interrupted: bool) -> None: ...

    def snapshot(self) -> dict[str, Any]: ...
