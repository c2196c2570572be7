"""Text-mode conversations with an agent: the same dialogue engine as a call, without audio.

Whatever engine the agent has (flow or LLM) is built by the same factory as for a phone call,
and its state (``Dialogue.snapshot``) lives in the database between turns, so a conversation
spans HTTP requests and processes. In text everything the agent said counts as heard.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from callwright.dialogue.base import (
    Dialogue,
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
from callwright.dialogue.factory import DialogueUnavailable, build_dialogue
from callwright.dialogue.inputs import DialogueDeps, DialogueInputs
from callwright.domain.pii import redact_obj
from callwright.services.agents import AgentVersion, current_version, version_by_id
from callwright.services.errors import Conflict, NotFound
from callwright.services.render import render_call_texts
from callwright.store.db import Database
from callwright.store.tables import chat_sessions
from callwright.store.types import utcnow


@dataclass
class ChatReply:
    session_id: str
    replies: list[str]
    expecting: str | None
    ended: bool
    outcome: str | None
    results: dict[str, Any] = field(default_factory=dict)
    first_message: str | None = None
    tool_calls: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class _Turn:
    replies: list[str] = field(default_factory=list)
    expecting: str | None = None
    outcome: str | None = None
    tool_calls: list[dict[str, Any]] = field(default_factory=list)


def _kept(version: AgentVersion, snapshot: dict[str, Any]) -> dict[str, Any]:
    """What is stored (and given back) of the conversation: with ``redact_pii`` its history,
    answers and results lose card and social-security numbers before they reach the database."""
    if not version.settings.redact_pii:
        return snapshot
    kept: dict[str, Any] = redact_obj(snapshot)
    return kept


async def _drain(dialogue: Dialogue, events: AsyncIterator[DialogueEvent]) -> _Turn:
    """Run one turn; streamed fragments are joined into whole replies."""
    turn = _Turn()
    pending = ""
    by_id: dict[str, dict[str, Any]] = {}

    def flush() -> None:
        nonlocal pending
        if pending.strip():
            turn.replies.append(pending.strip())
        pending = ""

    try:
        async for event in events:
            if isinstance(event, Say):
                pending += event.text
                if event.complete:
                    flush()
            elif isinstance(event, ToolStarted):
                by_id[event.call_id] = record = {
                    "id": event.call_id, "name": event.name, "kind": event.kind, "arguments": event.arguments,
                    "ok": None, "result": None,
                }
                turn.tool_calls.append(record)
            elif isinstance(event, ToolFinished):
                found = by_id.get(event.call_id)
                if found is None:  # a protected call from an earlier turn finished now
                    found = {"id": event.call_id, "name": event.name, "kind": "http", "arguments": {}}
                    turn.tool_calls.append(found)
                found.update(ok=event.ok, result=event.result, duration_ms=round(event.duration_ms, 1))
            elif isinstance(event, PressDigits):
                flush()
                turn.replies.append(f"[presses {event.digits}]")
            elif isinstance(event, Listen):
                turn.expecting = event.expect.kind
                break
            elif isinstance(event, End | Transfer):
                turn.outcome = event.outcome
                if isinstance(event, Transfer):
                    flush()
                    turn.replies.append(f"[transfers the call to {event.to}]")
                break
    finally:
        with contextlib.suppress(Exception):
            await events.aclose()  # type: ignore[attr-defined]
    flush()
    spoken = " ".join(r for r in turn.replies if not r.startswith("["))
    dialogue.heard(spoken, False)
    return turn


async def _close(dialogue: Dialogue) -> None:
    aclose = getattr(dialogue, "aclose", None)
    if aclose is not None:
        with contextlib.suppress(Exception):
            await aclose()


def _build(version: AgentVersion, inputs: DialogueInputs, deps: DialogueDeps, snapshot: Any = None) -> Dialogue:
    try:
        return build_dialogue(version.settings, inputs, deps, snapshot)
    except DialogueUnavailable as exc:  # the agent's engine cannot run here: its state, not the request
        raise Conflict(str(exc)) from exc


async def chat(
    db: Database,
    org_id: uuid.UUID | None,
    agent_id: uuid.UUID,
    *,
    text: str,
    session_id: uuid.UUID | None = None,
    variables: dict[str, Any] | None = None,
    context: str | dict[str, Any] | None = None,
    deps: DialogueDeps | None = None,
) -> ChatReply:
    """Start a conversation (no ``session_id``: greeting, then ``text`` if any) or continue one."""
    deps = deps or DialogueDeps()
    if session_id is None:
        version = await current_version(db, org_id, agent_id) if org_id else None
        if version is None:
            raise NotFound("agent not found")
        texts = render_call_texts(
            settings=version.settings,
            agent_id=version.agent_id,
            contact=None,
            to_number=None,
            from_number=None,
            direction="inbound",
            medium="web",
            call_variables=variables or {},
            call_context=context,
            first_message=None,
            retry_context=None,
            now=utcnow(),
        )
        inputs = DialogueInputs(
            variables=texts.variables, first_message=texts.first_message, instructions=texts.prompt,
            language=version.settings.language,
        )
        dialogue = _build(version, inputs, deps)
        try:
            turn = await _drain(dialogue, dialogue.start())
            if text.strip() and turn.outcome is None:
                more = await _drain(dialogue, dialogue.respond(UserInput(text=text)))
                turn.replies += more.replies
                turn.tool_calls += more.tool_calls
                turn.expecting, turn.outcome = more.expecting, more.outcome
            snapshot = _kept(version, dialogue.snapshot())
        finally:
            await _close(dialogue)
        new_id = uuid.uuid4()
        now = utcnow()
        async with db.tx() as conn:
            await conn.execute(
                chat_sessions.insert().values(
                    id=new_id,
                    org_id=org_id,
                    agent_id=version.agent_id,
                    agent_version_id=version.version_id,
                    state={
                        "variables": texts.variables,
                        "first_message": texts.first_message,
                        "instructions": texts.prompt,
                        "snapshot": snapshot,
                        "expecting": turn.expecting,
                    },
                    ended=turn.outcome is not None,
                    created_at=now,
                    updated_at=now,
                )
            )
        return ChatReply(
            str(new_id), turn.replies, turn.expecting, turn.outcome is not None, turn.outcome,
            dict(snapshot.get("results", {})), texts.first_message, turn.tool_calls,
        )
    async with db.read() as conn:
        q = sa.select(chat_sessions).where(chat_sessions.c.id == session_id, chat_sessions.c.agent_id == agent_id)
        if org_id is not None:
            q = q.where(chat_sessions.c.org_id == org_id)
        row = (await conn.execute(q)).first()
    if row is None:
        raise NotFound("chat session not found")
    version = await version_by_id(db, row.org_id, row.agent_version_id)
    state = row.state
    saved = state.get("snapshot") or {}
    if row.ended:
        results = dict(saved.get("results", {}))
        return ChatReply(str(session_id), [], None, True, results.get("outcome"), results)
    inputs = DialogueInputs(
        variables=state.get("variables") or {}, first_message=state.get("first_message"),
        instructions=state.get("instructions", ""), language=version.settings.language,
    )
    dialogue = _build(version, inputs, deps, saved)
    try:
        turn = await _drain(dialogue, dialogue.respond(UserInput(text=text)))
        snapshot = _kept(version, dialogue.snapshot())
    finally:
        await _close(dialogue)
    async with db.tx() as conn:
        await conn.execute(
            chat_sessions.update()
            .where(chat_sessions.c.id == session_id)
            .values(
                state={**state, "snapshot": snapshot, "expecting": turn.expecting},
                ended=turn.outcome is not None,
                updated_at=utcnow(),
            )
        )
    return ChatReply(
        str(session_id), turn.replies, turn.expecting, turn.outcome is not None, turn.outcome,
        dict(snapshot.get("results", {})), tool_calls=turn.tool_calls,
    )
