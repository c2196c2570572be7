"""Calls and conversations: one ID, two views of the same record."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query
from fastapi.responses import FileResponse, Response
from pydantic import Field, WithJsonSchema

from callwright.api.deps import Org, Svc
from callwright.api.params import Cursor, Limit, QueryTimestamp
from callwright.domain import call as call_model
from callwright.domain.call import CallStatus, Conversation, ConversationPage, TranscriptTurn
from callwright.services import conversations as read
from callwright.services.analysis.runner import request_reanalysis
from callwright.services.calls import from_canonical, request_fingerprint
from callwright.telephony.simulator.behavior import SimulatedCallee

router = APIRouter(tags=["calls"])

IdempotencyKey = Annotated[
    str | None,
    Header(alias="Idempotency-Key", max_length=255, description="Replays the first response for 24 h."),
]


class CallCreate(call_model.CallCreate):
    __doc__ = call_model.CallCreate.__doc__

    # The carrier owns and checks this field; the document shows the simulated carrier's shape.
    simulated_callee: Annotated[
        dict[str, Any] | None,
        WithJsonSchema({"anyOf": [SimulatedCallee.model_json_schema(), {"type": "null"}]}),
        Field(description="How the simulated callee behaves; only when the agent's phone.provider is simulator."),
    ] = None


@router.post("/v1/calls", status_code=201, response_model=Conversation)
async def create_call(body: CallCreate, org: Org, svc: Svc, idempotency_key: IdempotencyKey = None) -> Response:
    fingerprint = request_fingerprint(body.model_dump(mode="json", exclude_unset=True)) if idempotency_key else ""
    out = await svc.calls.create(
        org.org_id, from_canonical(body), idempotency_key=idempotency_key, fingerprint=fingerprint
    )
    # Serialized once here; FastAPI passes a Response through instead of validating the model again
    # (response_model still documents the body).
    return Response(out.model_dump_json(by_alias=True), status_code=201, media_type="application/json")


@router.get("/v1/calls/{call_id}", response_model=Conversation)
async def get_call(call_id: uuid.UUID, org: Org, svc: Svc) -> Conversation:
    return await read.get_conversation(svc.db, org.org_id, call_id)


@router.post("/v1/calls/{call_id}/cancel", response_model=Conversation)
async def cancel_call(call_id: uuid.UUID, org: Org, svc: Svc) -> Conversation:
    return await svc.calls.cancel(org.org_id, call_id)


@router.get("/v1/conversations", response_model=ConversationPage, tags=["conversations"])
async def list_conversations(
    org: Org, svc: Svc,
    agent_id: uuid.UUID | None = None,
    campaign_id: uuid.UUID | None = None,
    contact_id: uuid.UUID | None = None,
    status: CallStatus | None = None,
    call_source: Annotated[str | None, Query(max_length=200)] = None,
    created_after: QueryTimestamp = None,
    created_before: QueryTimestamp = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> ConversationPage:
    data, nxt = await read.list_conversations(
        svc.db, org.org_id, limit=limit, cursor=cursor, agent_id=agent_id, campaign_id=campaign_id,
        contact_id=contact_id, status=status, call_source=call_source, created_after=created_after,
        created_before=created_before,
    )
    return ConversationPage(data=data, next_cursor=nxt)


@router.get("/v1/conversations/{call_id}", response_model=Conversation, tags=["conversations"])
async def get_conversation(call_id: uuid.UUID, org: Org, svc: Svc) -> Conversation:
    return await read.get_conversation(svc.db, org.org_id, call_id)


@router.get("/v1/conversations/{call_id}/transcript", response_model=list[TranscriptTurn], tags=["conversations"])
async def get_transcript(call_id: uuid.UUID, org: Org, svc: Svc) -> list[TranscriptTurn]:
    return await read.get_transcript(svc.db, org.org_id, call_id)


@router.get(
    "/v1/conversations/{call_id}/recording",
    tags=["conversations"],
    response_class=FileResponse,
    responses={200: {"content": {"audio/wav": {}}}, 404: {"description": "no recording"}},
)
async def get_recording(call_id: uuid.UUID, org: Org, svc: Svc) -> FileResponse:
    path = await read.recording_file(svc.db, org.org_id, call_id, svc.settings.data_dir)
    return FileResponse(path, media_type="audio/wav", filename=f"{call_id}.wav")


@router.post(
    "/v1/conversations/{call_id}/analysis", status_code=202, tags=["conversations"], response_model=Conversation
)
async def rerun_analysis(call_id: uuid.UUID, org: Org, svc: Svc) -> Conversation:
    """Run the post-call analysis again (e.g. after changing the agent's plan); `call.analyzed`
    is sent again when it is done. 409 while the call is still going."""
    await request_reanalysis(svc.db, org.org_id, call_id)
    return await read.get_conversation(svc.db, org.org_id, call_id)
