"""The LLM dialogue engine: a conversation with any OpenAI-compatible chat model, streamed.

Speech starts before the reply is complete: every content delta is a ``Say`` (the session's
sentence splitter turns them into sentences). The model may call the agent's tools; custom
HTTP tools run in a task the dialogue owns, so a barge-in cancels the words but not the side
effect, and the result reaches the model at the next turn. A tool that takes a while gets its
filler line spoken, so the caller never hears dead air.

Provider failures never escape: an error status, a connection error, a stream that drops or
stalls, a body that is not JSON. The same request is tried once on the fallback model; when
that fails too the agent apologises and hangs up (outcome ``model_error``). Every failure is
in ``results["model_errors"]`` and every request's timing in ``requests``.

After each turn the session tells ``heard`` what the caller heard; the history keeps only that.
The state (messages, results) is JSON-safe for text chat's ``snapshot``/``restore``. A phone
session owns the model clients and must ``await aclose()`` when the call ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import weakref
from collections.abc import AsyncGenerator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from callwright.dialogue.base import (
    DialogueEvent,
    End,
    Listen,
    PressDigits,
    Say,
    ToolFinished,
    ToolStarted,
    Transfer,
    UserInput,
)
from callwright.dialogue.inputs import DialogueDeps, DialogueInputs
from callwright.dialogue.llm_clients import ModelClients
from callwright.dialogue.llm_endpoint import ModelEndpoint
from callwright.dialogue.llm_history import (
    Message,
    answer_unanswered,
    insert_tool_result,
    request_messages,
    trim_to_heard,
)
from callwright.dialogue.llm_prompt import build_system_message
from callwright.dialogue.llm_stream import (
    DraftToolCall,
    ModelFailure,
    StreamedReply,
    assistant_tool_calls,
    stream_reply,
    tool_call_list,
)
from callwright.dialogue.llm_tool_tasks import INTERRUPTED, TOOL_GRACE_S, RunningTool, ToolTasks
from callwright.dialogue.llm_tools import (
    AgentTool,
    ToolRequestError,
    encode_result,
    function_definition,
    normalize_digits,
    parse_arguments,
    tool_kind,
    transfer_target,
)
from callwright.domain.agent import EndCallTool, HttpTool, LlmDialogueConfig, PressDigitsTool, TransferCallTool
from callwright.domain.expectation import Expectation

logger = logging.getLogger(__name__)

MAX_ROUNDS = 5
"""Model requests per caller turn (a model that calls tools in a loop must not talk forever)."""

OUTCOME_COMPLETED = "completed"
OUTCOME_TRANSFERRED = "transferred"
OUTCOME_MODEL_ERROR = "model_error"

_OPEN_SPEECH = Expectation(kind="text")
_SNAPSHOT_VERSION = 1


@dataclass
class _Round:
    """One model request of a turn, as the tool step needs it."""

    message: Message = field(default_factory=lambda: {"role": "assistant", "content": ""})
    calls: list[DraftToolCall] = field(default_factory=list)
    model_spoke: bool = False
    failed: bool = False


def user_message_text(user: UserInput) -> str:
    """The caller's turn as the model reads it: the words, then any keys pressed."""
    text = user.text.strip()
    if user.dtmf:
        keys = f"(pressed on the keypad: {user.dtmf})"
        return f"{text} {keys}" if text else keys
    # The caller spoke (the turn was detected) but the recogniser made out no words.
    return text or "(inaudible)"


class LlmDialogue:
    """One conversation with a chat model; implements the ``Dialogue`` protocol."""

    def __init__(
        self,
        config: LlmDialogueConfig,
        tools: Sequence[AgentTool],
        inputs: DialogueInputs,
        deps: DialogueDeps | None = None,
    ) -> None:
        self.config = config
        self.inputs = inputs
        self.deps = deps or DialogueDeps()
        self.tools: dict[str, AgentTool] = {tool.name: tool for tool in tools}
        self.system_message = build_system_message(
            inputs.instructions, inputs.variables, inputs.retry_context, inputs.language
        )
        self.messages: list[Message] = []
        """The history after the system message (Chat Completions shape, JSON-safe)."""
        self.results: dict[str, Any] = _collected(inputs.retry_context)
        self.requests: list[dict[str, Any]] = []
        """Per model request: model, turn, ttft_ms, total_ms, ok (and error): the latency record."""
        self._functions = [function_definition(tool) for tool in tools]
        self._outcome: str | None = None
        self._started = False
        self._turn = 0
        self._turn_from = 0  # index in messages where the current agent turn began
        self._tail = ""  # the last text said this turn (spacing of the lines we add)
        self._tool_tasks = ToolTasks(self.deps.tools)
        # Shared clients come from the runtime's pool; without one the conversation has its own,
        # closed with it (and, if its owner forgets, quietly when it is collected).
        self._own_clients = self.deps.clients is None
        self._pool = self.deps.clients or ModelClients()
        if self._own_clients:
            weakref.finalize(self, _close_forgotten, self._pool)

    @property
    def ended(self) -> bool:
        return self._outcome is not None

    @property
    def outcome(self) -> str | None:
        return self._outcome

    # --- the Dialogue protocol ------------------------------------------------------------

    async def start(self) -> AsyncGenerator[DialogueEvent, None]:
        """The greeting: the first message as written, or the model's opening."""
        self._begin_turn()
        if self._outcome is not None:
            yield End(self._outcome)
            return
        if self._started:  # greeted already (a resumed chat): nothing new to say
            yield Listen(_OPEN_SPEECH)
            return
        self._started = True
        if self.inputs.first_message:
            self.messages.append({"role": "assistant", "content": self.inputs.first_message})
            yield Say(self.inputs.first_message)
            yield Listen(_OPEN_SPEECH)
            return
        async with contextlib.aclosing(self._converse()) as events:
            async for event in events:
                yield event

    async def respond(self, user: UserInput) -> AsyncGenerator[DialogueEvent, None]:
        """The reaction to one caller turn; first, the results of tools an earlier turn left running.

        The turn begins (for ``heard``) before anything else, and the caller's words are kept
        before waiting on those tools: a barge-in while they finish must neither lose the words
        nor let ``heard`` cut an earlier turn. The results still go right after their calls."""
        self._begin_turn()
        if self._outcome is not None:
            yield End(self._outcome)
            return
        self._turn += 1
        self._started = True
        self.messages.append({"role": "user", "content": user_message_text(user)})
        async with contextlib.aclosing(self._settle_tools()) as settled:
            async for event in settled:
                yield event
        answer_unanswered(self.messages, INTERRUPTED)
        async with contextlib.aclosing(self._converse()) as events:
            async for event in events:
                yield event

    def heard(self, text: str, interrupted: bool) -> None:
        """Keep of the last agent turn only the words the caller heard (tool calls stay)."""
        trim_to_heard(self.messages, self._turn_from, text)

    async def aclose(self) -> None:
        """Collect the results of tools still running (bounded by their timeouts), then close the
        model clients. The owner of the conversation calls it once the call is over."""
        await self._tool_tasks.wait_all()
        for entry in self._tool_tasks.pending:
            self._collect(entry)
        if self._own_clients:
            await self._pool.aclose()

    # --- one turn ------------------------------------------------------------------------

    def _begin_turn(self) -> None:
        self._turn_from = len(self.messages)
        self._tail = ""

    async def _converse(self) -> AsyncGenerator[DialogueEvent, None]:
        """Ask the model, run the tools it calls, ask again: until it only talks (``Listen``),
        the call ends, or ``MAX_ROUNDS`` requests were made."""
        for _ in range(MAX_ROUNDS):
            step = _Round()
            async with contextlib.aclosing(self._ask(step)) as spoken:
                async for event in spoken:
                    yield event
            if step.failed:
                for event in self._give_up():
                    yield event
                return
            if not step.calls:
                yield Listen(_OPEN_SPEECH)
                return
            async with contextlib.aclosing(self._run_tools(step)) as actions:
                async for event in actions:
                    yield event
            if self._outcome is not None:
                return
        yield Listen(_OPEN_SPEECH)

    def _endpoints(self) -> list[ModelEndpoint]:
        found: list[ModelEndpoint] = []
        primary = self.deps.servers.primary(self.config)
        if isinstance(primary, ModelEndpoint):
            found.append(primary)
        else:
            self._record_error(self.config.model, primary)
        fallback = self.deps.servers.fallback(self.config)
        if fallback is not None:
            found.append(fallback)
        return found


    async def _ask(self, step: _Round) -> AsyncGenerator[DialogueEvent, None]:
        """One model request, streamed into ``step.message``; on failure the same request goes
        once to the fallback model (after the words already spoken, which stay said).

        Each fragment is passed on as it arrives (the splitter needs the next one to end a
        sentence; holding it back would cost a token's time on every reply). When the stream
        ends, an empty complete ``Say`` tells the session the text is whole, so a reply's last
        words are spoken at once, even when the reply goes on to call a tool."""
        for endpoint in self._endpoints():
            messages = request_messages(self.system_message, self.messages)
            message: Message = {"role": "assistant", "content": ""}
            self.messages.append(message)
            reply = StreamedReply()
            record: dict[str, Any] = {"model": endpoint.model, "turn": self._turn, "ok": False}
            self.requests.append(record)
            failure: ModelFailure | None = None
            try:
                deltas = stream_reply(
                    await self._pool.get(endpoint, self.config.timeout_s),
                    model=endpoint.model,
                    messages=messages,
                    tools=self._functions,
                    temperature=self.config.temperature,
                    max_tokens=self.config.max_tokens,
                    timeout_s=self.config.timeout_s,
                    reply=reply,
                )
                async with contextlib.aclosing(deltas):
                    async for delta in deltas:
                        yield self._fragment(message, delta, complete=False)
                record["ok"] = True
            except ModelFailure as exc:
                failure = exc
                record["error"] = str(exc)
                self._record_error(endpoint.model, str(exc))
            finally:
                record["ttft_ms"] = reply.ttft_ms()
                record["total_ms"] = reply.total_ms()
                if not record["ok"] and "error" not in record:
                    record["error"] = "interrupted"
            if message["content"] and failure is None:
                yield Say("", complete=True)  # the reply's text is whole: speak what is left
            if failure is not None:
                if not message["content"]:
                    _remove(self.messages, message)
                continue
            step.message = message
            step.model_spoke = bool(message["content"].strip())
            step.calls = tool_call_list(reply, f"call_{self._turn}_{len(self.requests)}")
            if step.calls:
                message["tool_calls"] = assistant_tool_calls(step.calls)
            return
        step.failed = True

    def _fragment(self, message: Message, text: str, complete: bool) -> Say:
        """A piece of the model's reply, said and kept; a space where a new request's words
        would otherwise run into the last ones ("look.You")."""
        gap = ""
        if not message["content"] and self._tail and not self._tail[-1].isspace() and not text[0].isspace():
            gap = " "
        message["content"] += text
        self._tail = text
        return Say(gap + text, complete=complete)

    def _give_up(self) -> list[DialogueEvent]:
        message: Message = {"role": "assistant", "content": ""}
        self.messages.append(message)
        apology = self._add_line(message, self.config.fallback.message)
        self._end(OUTCOME_MODEL_ERROR)
        return [apology, End(OUTCOME_MODEL_ERROR, reason="model_error")]

    def _record_error(self, model: str, reason: str) -> None:
        logger.warning("model %s failed on turn %d: %s", model, self._turn, reason)
        errors = self.results.setdefault("model_errors", [])
        errors.append({"model": model, "error": reason, "turn": self._turn})

    def _add_line(self, message: Message, text: str) -> Say:
        """A line of ours (filler, closing line, transfer notice) said after the model's words;
        it goes into the assistant message, since the caller hears it."""
        gap = " " if self._tail and not self._tail[-1].isspace() else ""
        content = message.get("content") or ""
        message["content"] = f"{content}{' ' if content and not content[-1].isspace() else ''}{text}"
        self._tail = text
        return Say(gap + text)

    def _end(self, outcome: str) -> None:
        self._outcome = outcome
        self.results["outcome"] = outcome

    # --- tools ---------------------------------------------------------------------------

    async def _run_tools(self, step: _Round) -> AsyncGenerator[DialogueEvent, None]:
        """Each tool call in order; every one gets a result in the history before its event."""
        for call in step.calls:
            started = time.monotonic()
            if self._outcome is not None:
                insert_tool_result(self.messages, call.id, encode_result(False, "not run: the call ended").text)
                continue
            tool = self.tools.get(call.name)
            kind = tool_kind(tool)
            try:
                if tool is None:
                    known = ", ".join(self.tools) or "none"
                    raise ToolRequestError(f"there is no tool named {call.name!r}; the tools are: {known}")
                arguments = parse_arguments(call.arguments, tool)
            except ToolRequestError as exc:
                yield ToolStarted(call.id, call.name, kind, {})
                yield self._finish(call.id, call.name, started, False, str(exc))
                continue
            if isinstance(tool, HttpTool):
                async with contextlib.aclosing(self._run_http(call, tool, arguments, step)) as events:
                    async for event in events:
                        yield event
                continue
            yield ToolStarted(call.id, call.name, kind, arguments)
            if isinstance(tool, EndCallTool):
                finished = self._finish(call.id, call.name, started, True, {"ending_call": True})
                yield finished
                closing = arguments.get("closing_line")
                if isinstance(closing, str) and closing.strip():
                    yield self._add_line(step.message, closing.strip())
                self._end(OUTCOME_COMPLETED)
                yield End(OUTCOME_COMPLETED)
            elif isinstance(tool, TransferCallTool):
                try:
                    number = transfer_target(tool, arguments)
                except ToolRequestError as exc:
                    yield self._finish(call.id, call.name, started, False, str(exc))
                    continue
                self.results["transferred_to"] = number
                yield self._finish(call.id, call.name, started, True, {"transferring_to": number})
                if not step.model_spoke and tool.message:
                    yield self._add_line(step.message, tool.message)
                self._end(OUTCOME_TRANSFERRED)
                yield Transfer(number, outcome=OUTCOME_TRANSFERRED)
            elif isinstance(tool, PressDigitsTool):
                try:
                    digits = normalize_digits(arguments.get("digits"))
                except ToolRequestError as exc:
                    yield self._finish(call.id, call.name, started, False, str(exc))
                    continue
                finished = self._finish(call.id, call.name, started, True, {"pressed": digits})
                yield PressDigits(digits)
                yield finished

    def _finish(self, call_id: str, name: str, started: float, ok: bool, result: Any) -> ToolFinished:
        """Record a tool's result in the history; the event to yield."""
        encoded = encode_result(ok, result)
        insert_tool_result(self.messages, call_id, encoded.text)
        duration_ms = round((time.monotonic() - started) * 1000, 1)
        return ToolFinished(call_id, name, ok, encoded.value, duration_ms)

    async def _run_http(
        self, call: DraftToolCall, tool: HttpTool, arguments: dict[str, Any], step: _Round
    ) -> AsyncGenerator[DialogueEvent, None]:
        """The protected step (``llm_tool_tasks``), with the filler covering a slow answer."""
        entry = self._tool_tasks.start(call.id, call.name, tool, arguments)
        yield ToolStarted(call.id, call.name, "http", arguments)
        if not await ToolTasks.wait(entry, tool.filler_after_s):
            if tool.filler:
                yield self._add_line(step.message, tool.filler)
            await ToolTasks.wait(entry, None)
        yield self._collect(entry)

    def _collect(self, entry: RunningTool) -> ToolFinished:
        """A tool task's result into the history; the event to yield."""
        done = self._tool_tasks.collect(entry)
        encoded = encode_result(done.ok, done.result)
        insert_tool_result(self.messages, entry.call_id, encoded.text)
        return ToolFinished(entry.call_id, entry.name, done.ok, encoded.value, done.duration_ms)

    async def _settle_tools(self) -> AsyncGenerator[DialogueEvent, None]:
        """Results of tools a cancelled turn left running, before the conversation goes on."""
        for entry in self._tool_tasks.pending:
            await ToolTasks.wait(entry, entry.tool.timeout_s + TOOL_GRACE_S)
            yield self._collect(entry)

    # --- persistence ---------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        """JSON-safe state, enough to resume with ``restore`` (running tools cannot be saved)."""
        state = {
            "version": _SNAPSHOT_VERSION,
            "engine": "llm",
            "started": self._started,
            "outcome": self._outcome,
            "turn": self._turn,
            "turn_from": self._turn_from,
            "messages": self.messages,
            "results": self.results,
        }
        safe: dict[str, Any] = json.loads(json.dumps(state, ensure_ascii=False, default=str))
        return safe

    @classmethod
    def restore(
        cls,
        config: LlmDialogueConfig,
        tools: Sequence[AgentTool],
        inputs: DialogueInputs,
        deps: DialogueDeps | None,
        snapshot: Mapping[str, Any],
    ) -> LlmDialogue:
        """Rebuild a conversation from ``snapshot``; a tool that was still running is answered
        as interrupted (the model is told, and may ask again)."""
        dialogue = cls(config, tools, inputs, deps)
        messages = snapshot.get("messages") or []
        dialogue.messages = [dict(m) for m in messages if isinstance(m, Mapping)]
        results = snapshot.get("results")
        if isinstance(results, Mapping):
            dialogue.results = dict(results)
        outcome = snapshot.get("outcome")
        dialogue._outcome = outcome if isinstance(outcome, str) else None
        dialogue._started = bool(snapshot.get("started", False))
        dialogue._turn = int(snapshot.get("turn", 0))
        dialogue._turn_from = min(int(snapshot.get("turn_from", len(dialogue.messages))), len(dialogue.messages))
        answer_unanswered(dialogue.messages, INTERRUPTED)
        return dialogue


def _collected(retry_context: Mapping[str, Any] | None) -> dict[str, Any]:
    """A follow-up call starts with what the earlier attempt collected."""
    data = (retry_context or {}).get("collected_data")
    return dict(data) if isinstance(data, Mapping) else {}


def _remove(messages: list[Message], message: Message) -> None:
    """Remove this very message (another one may be equal to it)."""
    for i, item in enumerate(messages):
        if item is message:
            del messages[i]
            return


_closing: set[asyncio.Task[None]] = set()  # the loop keeps only weak references to tasks


def _close_forgotten(pool: ModelClients) -> None:
    """Close the clients of a dialogue collected without ``aclose`` on the running loop (their
    sockets would otherwise be dropped open, with a ResourceWarning each)."""
    if pool.empty:
        return
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:  # no loop left (interpreter exit): nothing can close them now
        return
    task = loop.create_task(pool.aclose())
    _closing.add(task)
    task.add_done_callback(_closing.discard)
