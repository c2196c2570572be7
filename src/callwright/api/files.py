"""Signed, expiring links to a call's files (webhook attachments): no API key, the signature
is the credential."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi.responses import FileResponse, JSONResponse, Response

from callwright.api.deps import Svc
from callwright.domain.pii import redact_obj
from callwright.services import conversations as read
from callwright.services.agents import version_by_id
from callwright.services.errors import NotFound
from callwright.services.webhooks.links import FileLinks

router = APIRouter(tags=["files"])

FileName = Literal["recording.wav", "transcript.json", "analysis.json"]


@router.get(
    "/v1/files/calls/{call_id}/{name}",
    responses={
        200: {"content": {"audio/wav": {}, "application/json": {}}},
        403: {"description": "the link is expired or its signature is wrong"},
        404: {"description": "no such file"},
    },
)
async def get_call_file(
    call_id: uuid.UUID,
    name: FileName,
    svc: Svc,
    expires: Annotated[int, Query(ge=0)],
    signature: Annotated[str, Query(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_-]+$")],
) -> Response:
    links = FileLinks(svc.secrets, "", svc.settings.attachment_url_ttl_s)
    if not links.valid(call_id, name, expires, signature):
        return JSONResponse({"detail": "this link is expired or its signature is wrong"}, status_code=403)
    row = await read.call_row_by_link(svc.db, call_id)
    if name == "recording.wav":
        if not row.recording_path or not await asyncio.to_thread(Path(row.recording_path).is_file):
            raise NotFound("this conversation has no recording")
        return FileResponse(row.recording_path, media_type="audio/wav", filename=f"{call_id}.wav")
    if name == "analysis.json":
        if row.analysis is None:
            raise NotFound("this conversation has not been analysed yet")
        return JSONResponse(row.analysis)
    transcript = read.conversation_out(row).model_dump(mode="json")["transcript"]
    settings = (await version_by_id(svc.db, row.org_id, row.agent_version_id)).settings
    return JSONResponse(redact_obj(transcript) if settings.redact_pii else transcript)
