"""Campaigns (batch calls): create, upload rows as CSV, control, and follow progress."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request

from callwright.api.deps import Org, Svc
from callwright.api.params import Cursor, Limit
from callwright.domain.campaign import (
    CampaignCreate,
    CampaignOut,
    CampaignPage,
    CampaignRowPage,
    CampaignUploadReport,
    RowState,
)
from callwright.services import campaign_ingest
from callwright.services import campaigns as service
from callwright.services.errors import InvalidInput

router = APIRouter(prefix="/v1/campaigns", tags=["campaigns"])

CampaignId = Annotated[uuid.UUID, Path(description="The campaign's ID.")]
MAX_UPLOAD_BYTES = 50 * 1024 * 1024
CSV_BODY = {
    "required": True,
    "content": {
        "text/csv": {"schema": {"type": "string"}},
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "properties": {"file": {"type": "string", "format": "binary"}},
                "required": ["file"],
                "additionalProperties": False,
            }
        },
    },
}


@router.post("", status_code=201, response_model=CampaignOut)
async def create_campaign(body: CampaignCreate, org: Org, svc: Svc) -> CampaignOut:
    return await service.create(svc.db, org.org_id, body)


@router.get("", response_model=CampaignPage)
async def list_campaigns(
    org: Org, svc: Svc, limit: Limit = 50,
    cursor: Cursor = None,
) -> CampaignPage:
    data, nxt = await service.list_campaigns(svc.db, org.org_id, limit, cursor)
    return CampaignPage(data=data, next_cursor=nxt)


@router.get("/{campaign_id}", response_model=CampaignOut)
async def get_campaign(campaign_id: CampaignId, org: Org, svc: Svc) -> CampaignOut:
    """The campaign with its progress: rows per state and per outcome, live calls, attempts."""
    return await service.get(svc.db, org.org_id, campaign_id)


def _control(action: str, summary: str) -> None:
    async def control(campaign_id: CampaignId, org: Org, svc: Svc) -> CampaignOut:
        return await service.control(svc.db, org.org_id, campaign_id, action)

    control.__name__ = f"{action}_campaign"
    router.post(
        f"/{{campaign_id}}/{action}", response_model=CampaignOut, summary=summary,
        description=summary + " 409 when the action does not apply to the campaign's state.",
    )(control)


_control("start", "Start a draft campaign: its rows are dialed inside their calling window.")
_control("pause", "Pause a running campaign: no new row is dialed; live calls finish.")
_control("resume", "Resume a paused campaign.")
_control("cancel", "Cancel a campaign: rows not yet dialed are canceled; live calls finish.")


@router.get("/{campaign_id}/contacts", response_model=CampaignRowPage)
async def list_campaign_rows(
    campaign_id: CampaignId, org: Org, svc: Svc, limit: Limit = 50,
    after_row: Annotated[
        int | None, Query(ge=0, le=2**31 - 1, description="`next_cursor` of the previous page.")
    ] = None,
    state: Annotated[RowState | None, Query(description="Only rows in this state.")] = None,
) -> CampaignRowPage:
    """Each row with its state, attempts, last conversation and errors, in file order."""
    data, nxt = await service.list_rows(svc.db, org.org_id, campaign_id, limit, after_row, state)
    return CampaignRowPage(data=data, next_cursor=str(nxt) if nxt is not None else None)


@router.post(
    "/{campaign_id}/contacts", response_model=CampaignUploadReport, openapi_extra={"requestBody": CSV_BODY}
)
async def upload_campaign_rows(campaign_id: CampaignId, request: Request, org: Org, svc: Svc) -> CampaignUploadReport:
    """Rows from a CSV, as a ``text/csv`` body or a multipart ``file``; streamed. Response:
    ``{"accepted", "rejected": [{"row", "errors"}], ...}``; bad rows never block good ones."""
    campaign = await service.check_uploadable(svc.db, org.org_id, campaign_id)
    chunks = await _csv_chunks(request)
    region = campaign.default_region or svc.settings.default_country
    # A file-level problem (encoding, no phone column, too large) is a CsvFileError: a 422 that says
    # which rows were already stored.
    report = await campaign_ingest.ingest_csv(
        svc.db, org.org_id, campaign_id, chunks, default_region=region, max_bytes=MAX_UPLOAD_BYTES
    )
    await service.rows_added(svc.db, org.org_id, campaign_id)
    return CampaignUploadReport.model_validate(report.to_json())


async def _csv_chunks(request: Request) -> AsyncIterator[bytes]:
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind == "multipart/form-data":
        form = await request.form(max_files=1, max_fields=1)
        upload = form.get("file")
        if upload is None:
            raise InvalidInput(["body", "file"], "the multipart body needs a `file` part holding the CSV")
        if isinstance(upload, str):  # the CSV sent as a plain form field rather than a file
            text = upload.encode()

            async def from_field() -> AsyncIterator[bytes]:
                yield text

            return from_field()

        async def from_file() -> AsyncIterator[bytes]:
            try:
                while chunk := await upload.read(64 * 1024):
                    yield chunk
            finally:
                await upload.close()

        return from_file()
    if kind in ("text/csv", "application/csv", "text/plain", ""):
        return request.stream()
    raise InvalidInput(["header", "content-type"], f"send the CSV as text/csv or multipart/form-data, not {kind!r}")
