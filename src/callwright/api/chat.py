"""Text-mode conversation with an agent, for testing it without audio."""

from __future__ import annotations

import uuid
from dataclasses import asdict
from typing import Any

from fastapi import APIRouter
from pydantic import Field

from callwright.api.deps import Org, Svc
from callwright.dialogue.inputs import DialogueDeps
from callwright.domain.common import JsonUuid, Out, Strict
from callwright.services import chat as service
from callwright.services.http_tools import HttpToolRunner

router = APIRouter(tags=["agents"])


class ChatIn(Strict):
    session_id: JsonUuid | None = Field(default=None, description="Continue this conversation; absent: start one.")
    text: str = Field(default="", max_length=4000)
    variables: dict[str, Any] | None = None
    context: str | dict[str, Any] | None = None


class ChatReply(Out):
    session_id: str
    replies: list[str] = Field(description="What the agent said, in order.")
    expecting: str | None = Field(description="What kind of answer it waits for (`yes_no`, `choice`, ...).")
    ended: bool
    outcome: str | None
    results: dict[str, Any]
    first_message: str | None = None
    tool_calls: list[dict[str, Any]] = Field(
        default_factory=list, description="Tools the agent called in this turn, with their results."
    )


@router.post("/v1/agents/{agent_id}/chat", response_model=ChatReply)
async def chat(agent_id: uuid.UUID, body: ChatIn, org: Org, svc: Svc) -> ChatReply:
    """Start (no ``session_id``) or continue a text conversation. The reply lists what the agent
    said, what it expects next, and, once it ends, the outcome and results."""
    reply = await service.chat(
        svc.db,
        org.org_id,
        agent_id,
        text=body.text,
        session_id=body.session_id,
        variables=body.variables,
        context=body.context,
        deps=DialogueDeps(servers=svc.servers, tools=HttpToolRunner(svc.http, svc.secrets)),
    )
    return ChatReply(**asdict(reply))
