"""The seam between the voice engine (or text chat) and whatever decides what the agent says."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, Protocol

from callwright.domain.expectation import Expectation


@dataclass(frozen=True)
class UserInput:
    """One caller turn: what the transcriber heard and/or the DTMF digits pressed."""

    text: str = ""
    dtmf: str = ""
    confidence: float | None = None


@dataclass(frozen=True)
class Say:
    """A piece of agent speech; ``node`` names the flow node (or turn) it belongs to."""

    text: str
    node: str | None = None


@dataclass(frozen=True)
class Listen:
    """The agent has finished speaking and waits for the caller."""

    expect: Expectation
    node: str | None = None


@dataclass(frozen=True)
class End:
    """The agent hangs up; ``outcome`` is recorded in the results (e.g. ``completed``)."""

    outcome: str
    reason: str = "agent_hangup"


DialogueEvent = Say | Listen | End


class Dialogue(Protocol):
    """Decides what the agent says. One instance per conversation.

    ``start`` yields the greeting; ``respond`` yields the reaction to one caller turn. Both end
    with a ``Listen`` or an ``End``. ``results`` holds the answers saved so far.
    """

    results: dict[str, Any]

    def start(self) -> AsyncIterator[DialogueEvent]: ...

    def respond(self, user: UserInput) -> AsyncIterator[DialogueEvent]: ...
