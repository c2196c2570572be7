"""The deterministic flow engine: walks a ``Flow`` document, needs no model.

``say`` nodes speak and move on; ``ask`` nodes speak, then wait (``Listen``) for an answer of
the expected kind. A usable answer is saved (``results[save_as]`` and a template variable of the
same name) and picks the branch; an unusable one re-asks the same question up to ``retries``
times, then takes ``fallback``, or ends with outcome ``no_usable_answer`` when there is none.
A cycle of ``say`` nodes with no ``ask`` would talk forever, so revisiting a node before the
next ``ask`` (or passing ``MAX_STEPS`` nodes) ends the flow with outcome ``flow_error``.

The state is small and JSON-safe (``snapshot``/``restore``) so text chat can resume a
conversation across HTTP requests.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from datetime import datetime
from typing import Any

from callwright.dialogue.answers import parse_answer
from callwright.dialogue.base import DialogueEvent, End, Listen, Say, UserInput
from callwright.domain.expectation import Expectation
from callwright.domain.flow import DEFAULT_BRANCH, Flow, FlowNode
from callwright.templating import render_safe

MAX_STEPS = 100
OUTCOME_NO_ANSWER = "no_usable_answer"
OUTCOME_FLOW_ERROR = "flow_error"
_SNAPSHOT_VERSION = 1


class FlowDialogue:
    """One conversation driven by a flow; implements the ``Dialogue`` protocol."""

    def __init__(
        self,
        flow: Flow,
        variables: Mapping[str, Any],
        first_message: str | None = None,
        now: Callable[[], datetime] | None = None,
        start_at: str | None = None,
    ) -> None:
        self.flow = flow
        self.start_at = start_at if start_at in flow.nodes else None
        self.first_message = first_message
        self.results: dict[str, Any] = {}
        self.history: list[tuple[str, str]] = []
        self._base = dict(variables)
        self._answers: dict[str, Any] = {}
        self._now = now or datetime.now
        self._current: str | None = None
        self._misses = 0
        self._started = False
        self._outcome: str | None = None
        self._turn_from = 0  # history index where the agent's current turn began

    @property
    def variables(self) -> dict[str, Any]:
        """The call's variables plus the answers saved so far (later texts can use them)."""
        return {**self._base, **self._answers}

    @property
    def ended(self) -> bool:
        return self._outcome is not None

    @property
    def current_node(self) -> str | None:
        """The ask node waiting for an answer, if any."""
        return self._current

    def current_expectation(self) -> Expectation | None:
        """What the flow waits for now; the voice engine can steer recognition with it."""
        return self.flow.to_expectation(self._current) if self._current else None

    async def start(self) -> AsyncIterator[DialogueEvent]:
        for event in self._start():
            yield event

    async def respond(self, user: UserInput) -> AsyncIterator[DialogueEvent]:
        for event in self._respond(user):
            yield event

    def heard(self, text: str, interrupted: bool) -> None:
        """Keep in the history only what the caller heard of the last agent turn."""
        kept = self.history[: self._turn_from]
        later = [entry for entry in self.history[self._turn_from :] if entry[0] != "agent"]
        self.history = kept + ([("agent", text)] if text else []) + later
        self._turn_from = len(self.history)

    def _start(self) -> list[DialogueEvent]:
        self._started = True
        self._turn_from = len(self.history)
        events: list[DialogueEvent] = []
        if self.first_message:
            events.append(self._say(self.first_message, None))
        # A follow-up call resumes at the stage the previous attempt reached (retry_context.stage_id).
        return events + self._run(self.start_at or self.flow.start)

    def _respond(self, user: UserInput) -> list[DialogueEvent]:
        if self._outcome is not None:
            return [End(self._outcome)]
        if not self._started:
            return self._start()
        heard = user.text.strip() or user.dtmf
        if heard:
            self.history.append(("user", heard))
        self._turn_from = len(self.history)
        if self._current is None:
            return self._finish(OUTCOME_FLOW_ERROR)
        name, node = self._current, self.flow.node(self._current)
        value = parse_answer(node.expectation(), user, self._now())
        if value is None:
            self._misses += 1
            if self._misses <= node.retries:
                return self._ask(name, node)
            self._misses = 0
            self._current = None
            if node.fallback is None:
                return self._finish(OUTCOME_NO_ANSWER)
            return self._run(node.fallback)
        self._misses = 0
        self._current = None
        if node.save_as:
            self._answers[node.save_as] = value
            self.results[node.save_as] = value
        target = self._branch(node, value)
        if target is None:
            return self._finish(node.end or OUTCOME_FLOW_ERROR)
        return self._run(target)

    @staticmethod
    def _branch(node: FlowNode, value: Any) -> str | None:
        key = ("yes" if value else "no") if isinstance(value, bool) else str(value)
        return node.branches.get(key) or node.branches.get(DEFAULT_BRANCH) or node.next

    def _run(self, name: str) -> list[DialogueEvent]:
        events: list[DialogueEvent] = []
        visited: set[str] = set()
        for _ in range(MAX_STEPS):
            if name in visited:  # a cycle of say nodes would never wait for the caller
                break
            visited.add(name)
            node = self.flow.node(name)
            if node.ask is not None:
                return events + self._ask(name, node)
            if node.say is not None:
                events.append(self._say(node.say, name))
            if node.end is not None or node.next is None:
                return events + self._finish(node.end or OUTCOME_FLOW_ERROR)
            name = node.next
        return events + self._finish(OUTCOME_FLOW_ERROR)

    def _ask(self, name: str, node: FlowNode) -> list[DialogueEvent]:
        self._current = name
        return [self._say(node.ask or "", name), Listen(node.expectation(), node=name)]

    def _say(self, template: str, node: str | None) -> Say:
        text = render_safe(template, self.variables)
        self.history.append(("agent", text))
        return Say(text, node=node)

    def _finish(self, outcome: str) -> list[DialogueEvent]:
        self._outcome = outcome
        self._current = None
        self.results["outcome"] = outcome
        return [End(outcome)]

    def snapshot(self) -> dict[str, Any]:
        """JSON-safe state, enough to resume with ``restore``."""
        return {
            "version": _SNAPSHOT_VERSION,
            "started": self._started,
            "current": self._current,
            "misses": self._misses,
            "outcome": self._outcome,
            "results": dict(self.results),
            "answers": dict(self._answers),
            "history": [[role, text] for role, text in self.history],
        }

    @classmethod
    def restore(
        cls,
        flow: Flow,
        variables: Mapping[str, Any],
        snapshot: Mapping[str, Any],
        first_message: str | None = None,
        now: Callable[[], datetime] | None = None,
    ) -> FlowDialogue:
        """Rebuild a dialogue from ``snapshot``; a node the flow no longer has ends it as a flow error."""
        dialogue = cls(flow, variables, first_message=first_message, now=now)
        dialogue._started = bool(snapshot.get("started", False))
        dialogue._misses = int(snapshot.get("misses", 0))
        dialogue._outcome = snapshot.get("outcome")
        dialogue.results = dict(snapshot.get("results", {}))
        dialogue._answers = dict(snapshot.get("answers", {}))
        dialogue.history = [(str(role), str(text)) for role, text in snapshot.get("history", [])]
        current = snapshot.get("current")
        if current is not None and current not in flow.nodes:
            dialogue._finish(OUTCOME_FLOW_ERROR)
        else:
            dialogue._current = current
        return dialogue
