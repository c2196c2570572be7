"""The dashboard's campaign pages: create, upload a CSV, control, watch progress."""


from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

from fastapi import HTTPException, Request
from fastapi.responses import Response, StreamingResponse

from callwright.api.deps import Services
from callwright.domain.campaign import DEFAULT_MAX_ATTEMPTS_PER_DAY, DEFAULT_MAX_CONCURRENCY, CampaignCreate
from callwright.domain.campaign_schedule import WEEKDAYS
from callwright.domain.contact import time_zones
from callwright.services import agents as agent_service
from callwright.services import campaign_ingest
from callwright.services import campaigns as campaign_service
from callwright.services.errors import NotFound, ServiceError
from callwright.web.auth import (
    FormSession,
    Session,
)
from callwright.web.campaign_form import RETRY_DEFAULTS, RETRY_OUTCOMES, WINDOW_DEFAULTS, campaign_body, field_errors
from callwright.web.common import (
    Svc,
    as_uuid,
    router,
    see,
    signed_out,
    sse,
)
from callwright.web.views import page

MAX_UPLOAD_BYTES = 50 * 1024 * 1024


async def _campaigns_page(
    session: Session, svc: Services, *, errors: dict[str, list[str]] | None = None,
    form: dict[str, Any] | None = None,
) -> Response:
    org_id = session.principal.org_id
    data, _ = await campaign_service.list_campaigns(svc.db, org_id, 200, None)
    agents, _ = await agent_service.list_agents(svc.db, org_id, 200, None, False, box=svc.secrets)
    errors = errors or {}
    return page(
        "campaigns.html", session, status_code=422 if errors else 200, campaigns=data, agents=agents,
        agent_names={a.id: a.name for a in agents}, errors=errors,
        error="\n".join(m for ms in errors.values() for m in ms), form=form or {}, window=WINDOW_DEFAULTS,
        retry=RETRY_DEFAULTS, weekdays=WEEKDAYS, outcomes=RETRY_OUTCOMES, zones=time_zones(),
        max_concurrency=DEFAULT_MAX_CONCURRENCY, max_attempts_per_day=DEFAULT_MAX_ATTEMPTS_PER_DAY,
    )


@router.get("/campaigns")
async def campaigns_page(session: Session, svc: Svc) -> Response:
    return await _campaigns_page(session, svc)


def _as_typed(data: Any) -> dict[str, Any]:
    """The submitted form, to show it again as typed after a refusal (lists for the checkboxes)."""
    typed: dict[str, Any] = {k: v for k, v in data.items() if isinstance(v, str)}
    for name in ("calling_window.days", "retry.on"):
        typed[name] = [v for v in data.getlist(name) if isinstance(v, str)]
    typed["submitted"] = True
    return typed


@router.post("/campaigns")
async def campaign_create(request: Request, session: FormSession, svc: Svc) -> Response:
    """Create a campaign from the form, validated as ``POST /v1/campaigns`` validates its body."""
    data = await request.form()
    try:
        body = CampaignCreate.model_validate(campaign_body(data))
        campaign = await campaign_service.create(svc.db, session.principal.org_id, body)
    except NotFound:
        return await _campaigns_page(session, svc, errors={"agent_id": ["Agent: no such agent"]}, form=_as_typed(data))
    except (ServiceError, ValueError) as exc:
        return await _campaigns_page(session, svc, errors=field_errors(exc), form=_as_typed(data))
    return see(f"/app/campaigns/{campaign.id}")


async def _campaign_page(
    session: Session, svc: Services, campaign_id: uuid.UUID, *, report: dict[str, Any] | None = None,
    error: str | None = None,
) -> Response:
    org_id = session.principal.org_id
    campaign = await campaign_service.get(svc.db, org_id, campaign_id)
    rows, _ = await campaign_service.list_rows(svc.db, org_id, campaign_id, 500, None, None)
    return page(
        "campaign.html", session, status_code=422 if error else 200, campaign=campaign, rows=rows,
        report=report, error=error,
    )


@router.get("/campaigns/{campaign_id}")
async def campaign_page(campaign_id: str, session: Session, svc: Svc) -> Response:
    return await _campaign_page(session, svc, as_uuid(campaign_id))


@router.post("/campaigns/{campaign_id}/contacts")
async def campaign_upload(campaign_id: str, request: Request, session: FormSession, svc: Svc) -> Response:
    """A CSV from the upload form, through the API's ingest: the page shows what was accepted and,
    row by row, what was not (a file-level fault shows the rows stored before it)."""
    org_id = session.principal.org_id
    cid = as_uuid(campaign_id)
    campaign = await campaign_service.check_uploadable(svc.db, org_id, cid)
    upload = (await request.form()).get("file")
    if upload is None or isinstance(upload, str):
        return await _campaign_page(session, svc, cid, error="choose a CSV file to upload")

    async def chunks() -> AsyncIterator[bytes]:
        while chunk := await upload.read(64 * 1024):
            yield chunk

    region = campaign.default_region or svc.settings.default_country
    try:
        report = await campaign_ingest.ingest_csv(
            svc.db, org_id, cid, chunks(), default_region=region, max_bytes=MAX_UPLOAD_BYTES
        )
    except campaign_ingest.CsvFileError as exc:
        if exc.report is not None:
            await campaign_service.rows_added(svc.db, org_id, cid)
        partial = exc.report.to_json() if exc.report is not None else None
        return await _campaign_page(session, svc, cid, report=partial, error=exc.msg)
    await campaign_service.rows_added(svc.db, org_id, cid)
    return await _campaign_page(session, svc, cid, report=report.to_json())


@router.get("/campaigns/{campaign_id}/events")
async def campaign_events(campaign_id: str, request: Request, session: Session, svc: Svc) -> StreamingResponse:
    """Server-Sent Events for the campaign page: its status and progress whenever they change,
    until the campaign is over (completed or canceled)."""
    cid = as_uuid(campaign_id)
    org_id = session.principal.org_id
    await campaign_service.get(svc.db, org_id, cid)  # 404 before the stream for another org's campaign

    async def stream() -> AsyncIterator[str]:
        last = ""
        for tick in range(3600):  # an hour at most per connection; EventSource reconnects
            if await signed_out(request, tick):
                return
            try:
                campaign = await campaign_service.get(svc.db, org_id, cid)
            except NotFound:
                return
            now = json.dumps({"status": campaign.status, "progress": campaign.progress.model_dump(mode="json")})
            if now != last:
                last = now
                yield f"event: progress\ndata: {now}\n\n"
            if campaign.status in ("completed", "canceled"):
                yield sse("end", {"status": campaign.status})
                return
            yield ": keep-alive\n\n"
            await asyncio.sleep(1.0)

    headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    return StreamingResponse(stream(), media_type="text/event-stream", headers=headers)


CAMPAIGN_ACTIONS = ("start", "pause", "resume", "cancel")




@router.post("/campaigns/{campaign_id}/{action}")
async def campaign_control(campaign_id: str, action: str, session: FormSession, svc: Svc) -> Response:
    if action not in CAMPAIGN_ACTIONS:
        raise HTTPException(404, "no such action")
    await campaign_service.control(svc.db, session.principal.org_id, as_uuid(campaign_id), action)
    return see(f"/app/campaigns/{campaign_id}")
