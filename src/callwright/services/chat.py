"""Text-mode conversations with an agent: the same dialogue engine as a call, without audio.
State lives in the database, so a conversation spans HTTP requests and processes."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from callwright.dialogue.base import End, Listen, Say, UserInput
from callwright.dialogue.factory import DEFAULT_FLOW, DialogueUnavailable
from callwright.dialogue.flow import FlowDialogue
from callwright.domain.flow import Flow
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


def _flow(version: AgentVersion) -> Flow:
    dialogue = version.settings.dialogue
    if dialogue is None:
        return Flow.model_validate(DEFAULT_FLOW)
    if dialogue.engine == "flow":
        return Flow.model_validate(dialogue.flow)
    raise DialogueUnavailable("text chat with the llm engine needs an OpenAI-compatible server, not configured here")


def _kept(version: AgentVersion, snapshot: dict[str, Any]) -> dict[str, Any]:
    """What is stored (and given back) of the conversation: with ``redact_pii`` its transcript,
    answers and results lose card and social-security numbers before they reach the database.
    A redacted answer stays redacted in later texts of the same chat, which is what we want."""
    if not version.settings.redact_pii:
        return snapshot
    return {**snapshot, **redact_obj({k: snapshot[k] for k in ("history", "answers", "results")})}


async def _drain(dialogue: FlowDialogue, events: Any) -> tuple[list[str], str | None, str | None]:
    replies: list[str] = []
    expecting: str | None = None
    outcome: str | None = None
    async for event in events:
        if isinstance(event, Say) and event.text:
            replies.append(event.text)
        elif isinstance(event, Listen):
            expecting = event.expect.kind
        elif isinstance(event, End):
            outcome = event.outcome
    return replies, expecting, outcome


async def chat(
    db: Database,
    org_id: uuid.UUID | None,
    agent_id: uuid.UUID,
    *,
    text: str,
    session_id: uuid.UUID | None = None,
    variables: dict[str, Any] | None = None,
    context: str | dict[str, Any] | None = None,
) -> ChatReply:
    """Start a conversation (no ``session_id``: greeting, then ``text`` if any) or continue one."""
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
        try:
            dialogue = FlowDialogue(_flow(version), texts.variables, texts.first_message)
        except DialogueUnavailable as exc:  # the agent's engine cannot run here: its state, not the request
            raise Conflict(str(exc)) from exc
        replies, expecting, outcome = await _drain(dialogue, dialogue.start())
        if text.strip() and outcome is None:
            more, expecting, outcome = await _drain(dialogue, dialogue.respond(UserInput(text=text)))
            replies += more
        new_id = uuid.uuid4()
        now = utcnow()
        snapshot = _kept(version, dialogue.snapshot())
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
                        "snapshot": snapshot,
                        "expecting": expecting,
                    },
                    ended=outcome is not None,
                    created_at=now,
                    updated_at=now,
                )
            )
        return ChatReply(
            str(new_id), replies, expecting, outcome is not None, outcome, snapshot["results"], texts.first_message
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
    dialogue = FlowDialogue.restore(_flow(version), state["variables"], state["snapshot"], state.get("first_message"))
    if row.ended:
        return ChatReply(str(session_id), [], None, True, dialogue.results.get("outcome"), dict(dialogue.results))
    replies, expecting, outcome = await _drain(dialogue, dialogue.respond(UserInput(text=text)))
    snapshot = _kept(version, dialogue.snapshot())
    async with db.tx() as conn:
        await conn.execute(
            chat_sessions.update()
            .where(chat_sessions.c.id == session_id)
            .values(
                state={**state, "snapshot": snapshot, "expecting": expecting},
                ended=outcome is not None,
                updated_at=utcnow(),
            )
        )
    return ChatReply(str(session_id), replies, expecting, outcome is not None, outcome, snapshot["results"])
