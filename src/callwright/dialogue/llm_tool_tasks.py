"""Custom HTTP tools run as tasks the dialogue owns: the protected step.

A barge-in cancels the task that iterates the dialogue's turn. A tool call (book the slot, take
the payment) must not be cancelled with it: the caller's words stop the agent's audio, not what
the agent was doing. So each call runs in its own task, kept here until its result is collected,
by the turn that started it or, after a barge-in, by the next turn (or the dialogue's close).
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Any

from callwright.dialogue.tools import ToolCaller
from callwright.domain.agent import HttpTool

logger = logging.getLogger(__name__)

TOOL_GRACE_S = 2.0
"""How long past a tool's own timeout its caller gets before the dialogue gives up on it."""

INTERRUPTED = "interrupted: the call moved on before this tool call finished"


@dataclass(frozen=True)
class ToolResult:
    ok: bool
    result: Any
    duration_ms: float


@dataclass
class RunningTool:
    call_id: str
    name: str
    tool: HttpTool
    task: asyncio.Task[tuple[bool, Any, float]]
    started: float


async def call_http_tool(
    caller: ToolCaller | None, tool: HttpTool, arguments: dict[str, Any]
) -> tuple[bool, Any, float]:
    """(ok, result, finished at); never raises: a broken or hanging caller is a failed tool."""
    if caller is None:
        return False, "custom tools are not available on this server", time.monotonic()
    try:
        async with asyncio.timeout(tool.timeout_s + TOOL_GRACE_S):
            outcome = await caller.call(tool, arguments)
    except TimeoutError:
        return False, f"the tool did not answer within {tool.timeout_s:g} s", time.monotonic()
    except Exception as exc:  # a tool caller's bug must not end the call
        logger.warning("tool %s raised %s", tool.name, type(exc).__name__, exc_info=True)
        return False, f"the tool failed ({type(exc).__name__})", time.monotonic()
    return outcome.ok, outcome.result, time.monotonic()


class ToolTasks:
    """The HTTP tool calls of one conversation whose results nobody collected yet."""

    def __init__(self, caller: ToolCaller | None) -> None:
        self.caller = caller
        self._running: dict[str, RunningTool] = {}

    @property
    def pending(self) -> list[RunningTool]:
        return list(self._running.values())

    def start(self, call_id: str, name: str, tool: HttpTool, arguments: dict[str, Any]) -> RunningTool:
        task = asyncio.create_task(call_http_tool(self.caller, tool, arguments), name=f"tool {name}")
        entry = RunningTool(call_id, name, tool, task, time.monotonic())
        self._running[call_id] = entry
        return entry

    @staticmethod
    async def wait(entry: RunningTool, timeout_s: float | None) -> bool:
        """Wait for the tool without ever cancelling it (a cancelled waiter leaves it running)."""
        done, _ = await asyncio.wait({entry.task}, timeout=timeout_s)
        return bool(done)

    def collect(self, entry: RunningTool) -> ToolResult:
        """Its result, once: one that has not finished is given up on (cancelled, interrupted)."""
        self._running.pop(entry.call_id, None)
        task = entry.task
        if not task.done() or task.cancelled():
            task.cancel()
            ok, result, finished = False, INTERRUPTED, time.monotonic()
        else:
            ok, result, finished = task.result()
        return ToolResult(ok, result, round((finished - entry.started) * 1000, 1))

    async def wait_all(self) -> None:
        """Let every running tool finish, each bounded by its own timeout."""
        running = [entry.task for entry in self._running.values() if not entry.task.done()]
        if running:
            longest = max(entry.tool.timeout_s for entry in self._running.values())
            await asyncio.wait(running, timeout=longest + TOOL_GRACE_S)
