"""Shared pieces of the LLM dialogue tests: a dialogue wired to the fake model server, a scripted
tool caller, and ways to run a turn (to the end, or until a barge-in cancels it)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from typing import Any

from tests.fakes.openai_server import FakeOpenAIServer

from callwright.dialogue.base import DialogueEvent, Say, ToolFinished, ToolStarted
from callwright.dialogue.inputs import DialogueDeps, DialogueInputs
from callwright.dialogue.llm import LlmDialogue
from callwright.dialogue.llm_endpoint import ModelServers
from callwright.dialogue.llm_tools import AgentTool
from callwright.dialogue.tools import ToolOutcome
from callwright.domain.agent import HttpTool, LlmDialogueConfig

KEY = "sk-dialogue-test-0123456789"
PRIMARY = "primary-model"
BACKUP = "backup-model"
PROMPT = "You remind customers about their dental appointments."


def config(**changes: Any) -> LlmDialogueConfig:
    """A fast-failing configuration: tests wait fractions of a second, not the default 4 s."""
    fallback = changes.pop("fallback", None)
    fields: dict[str, Any] = {"engine": "llm", "model": PRIMARY, "timeout_s": 0.4, **changes}
    if fallback is not None:
        fields["fallback"] = {"model": fallback} if isinstance(fallback, str) else fallback
    return LlmDialogueConfig.model_validate(fields)


def deps(fake: FakeOpenAIServer, tools: Any = None) -> DialogueDeps:
    return DialogueDeps(servers=ModelServers(default_base_url=fake.base_url, default_api_key=KEY), tools=tools)


def make(
    fake: FakeOpenAIServer,
    *,
    tools: Sequence[AgentTool] = (),
    caller: Any = None,
    first_message: str | None = None,
    instructions: str = PROMPT,
    variables: Mapping[str, Any] | None = None,
    retry_context: Mapping[str, Any] | None = None,
    language: str = "en-US",
    **settings: Any,
) -> LlmDialogue:
    inputs = DialogueInputs(
        variables=dict(variables or {}),
        first_message=first_message,
        instructions=instructions,
        retry_context=retry_context,
        language=language,
    )
    return LlmDialogue(config(**settings), list(tools), inputs, deps(fake, caller))


def http_tool(**changes: Any) -> HttpTool:
    fields: dict[str, Any] = {
        "name": "lookup_balance",
        "description": "Look up the customer's balance.",
        "url": "https://tools.example.com/balance",
        "parameters": {
            "type": "object",
            "properties": {"account_id": {"type": "string"}},
            "required": ["account_id"],
        },
        "timeout_s": 2,
        **changes,
    }
    return HttpTool.model_validate(fields)


class ScriptedTools:
    """A ``ToolCaller`` that answers ``outcome`` after ``delay_s`` (or raises ``error``)."""

    def __init__(
        self,
        outcome: ToolOutcome | None = None,
        delay_s: float = 0.0,
        error: Exception | None = None,
    ) -> None:
        self.outcome = outcome or ToolOutcome(ok=True, result={"balance": "$120.00"}, status_code=200)
        self.delay_s = delay_s
        self.error = error
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.finished = asyncio.Event()

    async def call(self, tool: HttpTool, arguments: dict[str, Any]) -> ToolOutcome:
        self.calls.append((tool.name, arguments))
        try:
            await asyncio.sleep(self.delay_s)
            if self.error is not None:
                raise self.error
            return self.outcome
        finally:
            self.finished.set()


async def run(events: AsyncIterator[DialogueEvent]) -> list[DialogueEvent]:
    """A whole turn, closed afterwards as the voice session does."""
    async with contextlib.aclosing(events):  # type: ignore[type-var]
        return [event async for event in events]


async def timed(events: AsyncIterator[DialogueEvent]) -> list[tuple[float, DialogueEvent]]:
    """A whole turn with the time (s since the start) each event arrived."""
    t0 = time.monotonic()
    out: list[tuple[float, DialogueEvent]] = []
    async with contextlib.aclosing(events):  # type: ignore[type-var]
        async for event in events:
            out.append((time.monotonic() - t0, event))
    return out


async def barge_in(
    events: AsyncIterator[DialogueEvent], when: Callable[[DialogueEvent], bool]
) -> list[DialogueEvent]:
    """Iterate a turn in a task and cancel that task (a barge-in) once ``when`` saw an event;
    the events seen until then."""
    seen: list[DialogueEvent] = []
    trigger = asyncio.Event()

    async def consume() -> None:
        async with contextlib.aclosing(events):  # type: ignore[type-var]
            async for event in events:
                seen.append(event)
                if when(event):
                    trigger.set()

    task = asyncio.create_task(consume())
    waiter = asyncio.create_task(trigger.wait())
    await asyncio.wait({task, waiter}, timeout=5, return_when=asyncio.FIRST_COMPLETED)
    waiter.cancel()
    assert trigger.is_set(), f"the turn never reached the barge-in point: {seen}"
    await asyncio.sleep(0.02)  # let the turn get to its next await, as real speech would
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    return seen


def said(events: Sequence[DialogueEvent]) -> str:
    """Everything spoken in a turn, as one text."""
    return "".join(event.text for event in events if isinstance(event, Say))


def tool_events(events: Sequence[DialogueEvent]) -> list[ToolStarted | ToolFinished]:
    return [event for event in events if isinstance(event, ToolStarted | ToolFinished)]


def roles(body: Mapping[str, Any]) -> list[str]:
    return [message["role"] for message in body["messages"]]


async def cancel_after(events: AsyncIterator[DialogueEvent], seconds: float) -> list[DialogueEvent]:
    """Iterate a turn in a task and cancel it (a barge-in) after ``seconds``."""
    seen: list[DialogueEvent] = []

    async def consume() -> None:
        async with contextlib.aclosing(events):  # type: ignore[type-var]
            async for event in events:
                seen.append(event)

    task = asyncio.create_task(consume())
    await asyncio.sleep(seconds)
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    return seen
