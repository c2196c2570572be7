"""The dashboard's pages, mounted at ``/app``: server-rendered HTML over the same services the API
uses, every query scoped to the session's organization. Not part of the OpenAPI document."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, cast, get_args

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse, Response, StreamingResponse
from pydantic import ValidationError

from callwright.api.deps import Services, get_services
from callwright.domain.agent import AgentCreate, AgentUpdate, DynamicContextTest
from callwright.domain.analytics import GroupBy
from callwright.domain.call import CallStatus
from callwright.domain.campaign import CampaignCreate
from callwright.domain.webhook import WebhookTargetIn
from callwright.services import agents as agent_service
from callwright.services import analytics as analytics_service
from callwright.services import campaign_ingest, dashboard_sessions
from callwright.services import campaigns as campaign_service
from callwright.services import conversations as read
from callwright.services.calls import NewCall
from callwright.services.dynamic_context import run_context_test
from callwright.services.errors import NotFound, ServiceError
from callwright.services.webhooks import deliveries as delivery_service
from callwright.services.webhooks import targets as target_service
from callwright.templating import render_checked
from callwright.web.auth import (
    SIGN_IN_COOKIE,
    FormSession,
    Session,
    check_sign_in_token,
    clear_cookie,
    new_sign_in_token,
    optional_session,
    set_cookie,
    set_sign_in_cookie,
)
from callwright.web.routing import DashboardRoute
from callwright.web.views import page

router = APIRouter(prefix="/app", include_in_schema=False, route_class=DashboardRoute)
Svc = Annotated[Services, Depends(get_services)]
STATIC = Path(__file__).parent / "static"
_STATIC_TYPES = {".css": "text/css", ".js": "text/javascript", ".svg": "image/svg+xml"}
STATUSES: tuple[str, ...] = get_args(CallStatus)
SAMPLE_VARIABLES = {"first_name": "Alex", "last_name": "Doe", "amount": "42.00", "company": "Acme"}


def _uuid(value: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        raise NotFound("no such record") from None


def _opt_uuid(value: str | None) -> uuid.UUID | None:
    return _uuid(value) if value else None


def _opt_date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise HTTPException(422, f"not a date: {value!r}") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)  # a date picker gives a UTC day


def _problem(exc: Exception) -> str:
    """A refusal in words: pydantic's errors as "field: message" lines, others as they are."""
    if isinstance(exc, ValidationError):
        return "\n".join(f"{'.'.join(str(p) for p in e['loc']) or 'form'}: {e['msg']}" for e in exc.errors())
    return str(exc)


def _see(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


@router.get("/static/{name}")
async def static(name: str) -> FileResponse:
    """The dashboard's own CSS and JS (nothing is loaded from anywhere else)."""
    path = STATIC / name
    if "/" in name or name.startswith(".") or path.suffix not in _STATIC_TYPES or not path.is_file():
        raise HTTPException(404, "no such file")
    return FileResponse(path, media_type=_STATIC_TYPES[path.suffix], headers={"Cache-Control": "max-age=300"})


# ---- sign-in -----------------------------------------------------------------------------------

@router.get("")
async def home(request: Request) -> RedirectResponse:
    return _see("/app/calls" if await optional_session(request) else "/app/signin")


def _signin_page(svc: Services, *, error: str | None = None, status_code: int = 200) -> Response:
    token = new_sign_in_token()
    response = page("signin.html", None, status_code=status_code, error=error, signin_token=token)
    set_sign_in_cookie(response, token, svc)
    return response


@router.get("/signin")
async def signin_page(svc: Svc) -> Response:
    return _signin_page(svc)


@router.post("/signin")
async def signin(request: Request, svc: Svc) -> Response:
    form = await request.form()
    check_sign_in_token(request, form.get("csrf_token"))
    key = form.get("api_key")
    made = await dashboard_sessions.sign_in(svc.db, svc.keys, key) if isinstance(key, str) else None
    if made is None:
        return _signin_page(svc, status_code=401, error="That API key is not valid (or was revoked).")
    token, _ = made
    response = _see("/app/calls")
    set_cookie(response, token, svc)
    response.delete_cookie(SIGN_IN_COOKIE, path="/app", httponly=True, samesite="lax")
    return response


@router.post("/signout")
async def signout(session: FormSession, svc: Svc) -> Response:
    await dashboard_sessions.sign_out(svc.db, session.id)
    response = _see("/app/signin")
    clear_cookie(response)
    return response


# ---- agents ------------------------------------------------------------------------------------

async def _agents_page(
    session: Session, svc: Services, *, error: str | None = None, form: dict[str, str] | None = None
) -> Response:
    data, _ = await agent_service.list_agents(svc.db, session.principal.org_id, 200, None, False, box=svc.secrets)
    return page("agents.html", session, status_code=422 if error else 200, agents=data, error=error, form=form or {})


@router.get("/agents")
async def agents_page(session: Session, svc: Svc) -> Response:
    return await _agents_page(session, svc)


@router.post("/agents")
async def agent_create(request: Request, session: FormSession, svc: Svc) -> Response:
    """A new agent from name, prompt and first message; the rest keeps the API's defaults."""
    form = {k: v.replace("\r\n", "\n") for k, v in (await request.form()).items() if isinstance(v, str)}
    body = {k: form[k] for k in ("name", "prompt", "first_message") if form.get(k)}
    try:
        agent = await agent_service.create_agent(
            svc.db, session.principal.org_id, AgentCreate.model_validate(body), box=svc.secrets,
            allow_private_urls=svc.settings.allow_private_urls,
        )
    except (ServiceError, ValueError) as exc:
        return await _agents_page(session, svc, error=_problem(exc), form=form)
    return _see(f"/app/agents/{agent.id}")


async def _agent_page(
    session: Session, svc: Services, agent_id: uuid.UUID, *, error: str | None = None, new_secret: str | None = None
) -> Response:
    org_id = session.principal.org_id
    agent = await agent_service.get_agent(svc.db, org_id, agent_id, box=svc.secrets)
    versions = await agent_service.list_versions(svc.db, org_id, agent_id, box=svc.secrets)
    targets = await target_service.list_targets(svc.db, svc.secrets, org_id, agent_id)
    settings = agent.model_dump(mode="json", exclude={"id", "version_id", "version", "created_at", "updated_at"})
    return page(
        "agent.html", session, status_code=422 if error else 200, agent=agent, settings=settings,
        versions=versions, targets=targets, error=error, samples=json.dumps(SAMPLE_VARIABLES), new_secret=new_secret,
    )


@router.get("/agents/{agent_id}")
async def agent_page(agent_id: str, session: Session, svc: Svc) -> Response:
    return await _agent_page(session, svc, _uuid(agent_id))


@router.post("/agents/{agent_id}")
async def agent_edit(agent_id: str, request: Request, session: FormSession, svc: Svc) -> Response:
    """Save name, prompt and first message as a new version, validated exactly as the API's PATCH."""
    form = await request.form()
    fields = {k: form.get(k) for k in ("name", "prompt", "first_message")}
    values = {k: v.replace("\r\n", "\n") for k, v in fields.items() if isinstance(v, str)}
    if values.get("first_message") == "":
        values["first_message"] = None  # type: ignore[assignment]
    aid = _uuid(agent_id)
    try:
        body = AgentUpdate.model_validate(values)
        await agent_service.update_agent(
            svc.db, session.principal.org_id, aid, body, box=svc.secrets,
            allow_private_urls=svc.settings.allow_private_urls,
        )
    except ServiceError as exc:
        if isinstance(exc, NotFound):
            raise
        return await _agent_page(session, svc, aid, error=_problem(exc))
    except ValueError as exc:
        return await _agent_page(session, svc, aid, error=_problem(exc))
    return _see(f"/app/agents/{aid}")


@router.post("/agents/{agent_id}/preview")
async def agent_preview(agent_id: str, request: Request, session: FormSession, svc: Svc) -> JSONResponse:
    """Render a draft prompt/first message with sample variables in the same sandbox calls use."""
    await agent_service.get_agent(svc.db, session.principal.org_id, _uuid(agent_id), box=svc.secrets)
    form = await request.form()
    try:
        raw = form.get("variables")
        variables = json.loads(raw) if isinstance(raw, str) and raw.strip() else dict(SAMPLE_VARIABLES)
        if not isinstance(variables, dict):
            raise ValueError
    except ValueError:
        return JSONResponse({"error": "sample variables must be a JSON object"}, status_code=422)
    out: dict[str, Any] = {}
    for name in ("prompt", "first_message"):
        source = form.get(name)
        text, error = render_checked(source if isinstance(source, str) else "", variables)
        out[name] = {"text": text, "error": error}
    return JSONResponse(out, headers={"Cache-Control": "no-store"})


@router.post("/agents/{agent_id}/webhooks")
async def agent_webhook_create(agent_id: str, request: Request, session: FormSession, svc: Svc) -> Response:
    """Add a webhook target; its signing secret is on this response's page only, never again."""
    aid = _uuid(agent_id)
    form = await request.form()
    body: dict[str, Any] = {
        "url": str(form.get("url") or "").strip(),
        "include_transcript": form.get("include_transcript") == "on",
        "include_recording": form.get("include_recording") == "on",
    }
    events = [e for e in form.getlist("events") if isinstance(e, str)]
    if events:
        body["events"] = events
    try:
        target = await target_service.create_target(
            svc.db, svc.secrets, session.principal.org_id, aid, WebhookTargetIn.model_validate(body),
            svc.settings.allow_private_urls,
        )
    except NotFound:
        raise
    except (ServiceError, ValueError) as exc:
        return await _agent_page(session, svc, aid, error=_problem(exc))
    return await _agent_page(session, svc, aid, new_secret=target.secret)


@router.post("/agents/{agent_id}/context-test")
async def agent_context_test(agent_id: str, session: FormSession, svc: Svc) -> JSONResponse:
    """The **Test** button: the saved dynamic-context request with sample values, as the API's
    ``POST /v1/agents/{id}/dynamic-context/test`` runs it (status, latency, variables or error)."""
    result = await run_context_test(
        svc.db, svc.http, svc.secrets, session.principal.org_id, _uuid(agent_id), DynamicContextTest()
    )
    return JSONResponse({
        "ok": result.ok, "status_code": result.status_code, "latency_ms": round(result.latency_ms, 1),
        "variables": result.variables, "error": result.error,
    }, headers={"Cache-Control": "no-store"})


# ---- calls -------------------------------------------------------------------------------------

@router.get("/calls")
async def calls_page(
    session: Session, svc: Svc, status: str = "", agent_id: str = "", campaign_id: str = "",
    call_source: str = "", created_after: str = "", created_before: str = "", cursor: str = "",
) -> Response:
    org_id = session.principal.org_id
    data, nxt = await read.list_conversations(
        svc.db, org_id, limit=50, cursor=cursor or None, agent_id=_opt_uuid(agent_id),
        campaign_id=_opt_uuid(campaign_id), status=status or None, call_source=call_source or None,
        created_after=_opt_date(created_after), created_before=_opt_date(created_before),
    )
    agents, _ = await agent_service.list_agents(svc.db, org_id, 200, None, True, box=svc.secrets)
    campaigns, _ = await campaign_service.list_campaigns(svc.db, org_id, 200, None)
    filters = {
        "status": status, "agent_id": agent_id, "campaign_id": campaign_id, "call_source": call_source,
        "created_after": created_after, "created_before": created_before,
    }
    return page(
        "calls.html", session, calls=data, next_cursor=nxt, filters=filters, statuses=STATUSES,
        agent_names={a.id: a.name for a in agents}, agents=agents, campaigns=campaigns,
    )


@router.get("/calls/new")
async def call_new_page(session: Session, svc: Svc) -> Response:
    agents, _ = await agent_service.list_agents(svc.db, session.principal.org_id, 200, None, False, box=svc.secrets)
    return page("call_new.html", session, agents=agents, error=None, form={})


@router.post("/calls")
async def call_create(request: Request, session: FormSession, svc: Svc) -> Response:
    """"Call a number": the API's call creation with ``call_source: dashboard``."""
    form = await request.form()
    fields = {k: v for k, v in form.items() if isinstance(v, str)}
    try:
        variables = json.loads(fields.get("variables") or "{}")
        if not isinstance(variables, dict):
            raise ValueError("variables must be a JSON object")
        new = NewCall(
            agent_id=_uuid(fields.get("agent_id", "")), to=fields.get("to", "").strip() or None,
            first_message=fields.get("first_message") or None, call_source="dashboard", variables=variables,
        )
        call = await svc.calls.create(session.principal.org_id, new)
    except (ServiceError, ValueError) as exc:
        agents, _ = await agent_service.list_agents(
            svc.db, session.principal.org_id, 200, None, False, box=svc.secrets
        )
        message = _problem(exc)
        return page("call_new.html", session, status_code=422, agents=agents, error=message, form=fields)
    return _see(f"/app/calls/{call.id}")


def _latency_bars(latency: dict[str, Any] | None) -> list[dict[str, Any]]:
    """Per-turn response latency as bars for the inline SVG chart (ms, scaled to the slowest)."""
    turns = (latency or {}).get("turns") or []
    values: list[float] = []
    for turn in turns if isinstance(turns, list) else []:
        value = None
        if isinstance(turn, dict):
            value = next((turn[k] for k in ("response_ms", "total_ms", "latency_ms") if k in turn), None)
        elif isinstance(turn, (int, float)):
            value = turn
        if isinstance(value, (int, float)):
            values.append(float(value))
    top = max(values, default=0.0) or 1.0
    return [{"i": i, "ms": round(v), "h": round(100 * v / top, 1)} for i, v in enumerate(values)]


@router.get("/calls/{call_id}")
async def call_page(call_id: str, session: Session, svc: Svc) -> Response:
    org_id = session.principal.org_id
    call = await read.get_conversation(svc.db, org_id, _uuid(call_id))
    page_of = await delivery_service.list_deliveries(svc.db, org_id, call_id=_uuid(call_id), limit=100)
    return page(
        "call.html", session, call=call, deliveries=page_of.data, bars=_latency_bars(call.latency),
        live=call.status in ("queued", "dialing", "ringing", "in_progress"),
    )


@router.get("/calls/{call_id}/recording")
async def call_recording(call_id: str, session: Session, svc: Svc) -> FileResponse:
    """The stereo recording for the page's <audio> player, behind the session like the API's route."""
    row = await read.call_row(svc.db, session.principal.org_id, _uuid(call_id))
    if not row.recording_path:
        raise NotFound("this conversation has no recording")
    path = Path(row.recording_path)
    if not path.is_absolute():
        path = svc.settings.data_dir / path
    if not path.is_file():
        raise NotFound("the recording file is missing")
    return FileResponse(path, media_type="audio/wav")


@router.post("/calls/{call_id}/cancel")
async def call_cancel(call_id: str, session: FormSession, svc: Svc) -> Response:
    try:
        await svc.calls.cancel(session.principal.org_id, _uuid(call_id))
    except NotFound:
        raise
    except ServiceError:
        pass  # already ended: the page shows its final state
    return _see(f"/app/calls/{call_id}")


def _sse(event: str, data: Any) -> str:
    return f"event: {event}\ndata: {json.dumps(data, default=str)}\n\n"


async def _signed_out(request: Request, tick: int) -> bool:
    """Every 20th tick of a stream: has its session ended (sign-out, expiry, revoked key)?"""
    return tick % 20 == 19 and await optional_session(request) is None


@router.get("/calls/{call_id}/events")
async def call_events(call_id: str, request: Request, session: Session, svc: Svc) -> StreamingResponse:
    """Server-Sent Events for the live view: new transcript turns, status changes and the call's
    events, read server-side from the row the media session keeps current, until the call ends."""
    cid = _uuid(call_id)
    org_id = session.principal.org_id
    if await dashboard_sessions.live_state(svc.db, org_id, cid, 0) is None:
        raise NotFound("no such call")

    async def stream() -> AsyncIterator[str]:
        sent: list[dict[str, Any]] = []
        events = 0
        status = ""
        for tick in range(3600 * 2):  # an hour at most per connection; EventSource reconnects
            state = await dashboard_sessions.live_state(svc.db, org_id, cid, events)
            if state is None or await _signed_out(request, tick):
                return
            # A turn grows while it is spoken: send each new or changed turn with its index.
            for index, turn in enumerate(state.transcript):
                if index >= len(sent) or sent[index] != turn:
                    yield _sse("turn", {"index": index, **turn})
            sent = list(state.transcript)
            for event in state.events:
                yield _sse("event", event)
            events += len(state.events)
            if state.status != status:
                status = state.status
                yield _sse("status", {"status": status})
            if state.ended:
                # The stored transcript is final (merged, redacted): it replaces the live one.
                yield _sse("transcript", state.transcript)
                yield _sse("end", {"status": status})
                return
            yield ": keep-alive\n\n"
            await asyncio.sleep(0.5)

    headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    return StreamingResponse(stream(), media_type="text/event-stream", headers=headers)


# ---- campaigns ---------------------------------------------------------------------------------

MAX_UPLOAD_BYTES = 50 * 1024 * 1024


async def _campaigns_page(
    session: Session, svc: Services, *, error: str | None = None, form: dict[str, str] | None = None
) -> Response:
    org_id = session.principal.org_id
    data, _ = await campaign_service.list_campaigns(svc.db, org_id, 200, None)
    agents, _ = await agent_service.list_agents(svc.db, org_id, 200, None, False, box=svc.secrets)
    return page(
        "campaigns.html", session, status_code=422 if error else 200, campaigns=data, agents=agents,
        error=error, form=form or {},
    )


@router.get("/campaigns")
async def campaigns_page(session: Session, svc: Svc) -> Response:
    return await _campaigns_page(session, svc)


@router.post("/campaigns")
async def campaign_create(request: Request, session: FormSession, svc: Svc) -> Response:
    """Create a campaign from the form, validated as ``POST /v1/campaigns`` validates its body."""
    form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
    body: dict[str, Any] = {"name": form.get("name", ""), "agent_id": form.get("agent_id", "")}
    for name in ("call_source", "context"):
        if form.get(name, "").strip():
            body[name] = form[name].strip()
    if form.get("max_concurrency", "").strip():
        value = form["max_concurrency"].strip()
        body["max_concurrency"] = int(value) if value.isdigit() else value
    try:
        campaign = await campaign_service.create(svc.db, session.principal.org_id, CampaignCreate.model_validate(body))
    except NotFound:
        return await _campaigns_page(session, svc, error="no such agent", form=form)
    except (ServiceError, ValueError) as exc:
        return await _campaigns_page(session, svc, error=_problem(exc), form=form)
    return _see(f"/app/campaigns/{campaign.id}")


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
    return await _campaign_page(session, svc, _uuid(campaign_id))


@router.post("/campaigns/{campaign_id}/contacts")
async def campaign_upload(campaign_id: str, request: Request, session: FormSession, svc: Svc) -> Response:
    """A CSV from the upload form, through the API's ingest: the page shows what was accepted and,
    row by row, what was not (a file-level fault shows the rows stored before it)."""
    org_id = session.principal.org_id
    cid = _uuid(campaign_id)
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
    cid = _uuid(campaign_id)
    org_id = session.principal.org_id
    await campaign_service.get(svc.db, org_id, cid)  # 404 before the stream for another org's campaign

    async def stream() -> AsyncIterator[str]:
        last = ""
        for tick in range(3600):  # an hour at most per connection; EventSource reconnects
            if await _signed_out(request, tick):
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
                yield _sse("end", {"status": campaign.status})
                return
            yield ": keep-alive\n\n"
            await asyncio.sleep(1.0)

    headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    return StreamingResponse(stream(), media_type="text/event-stream", headers=headers)


CAMPAIGN_ACTIONS = ("start", "pause", "resume", "cancel")


@router.post("/calls/{call_id}/deliveries/{delivery_id}/retry")
async def delivery_retry(call_id: str, delivery_id: str, session: FormSession, svc: Svc) -> Response:
    """Send a webhook delivery again, as ``POST /v1/webhook-deliveries/{id}/retry`` does."""
    await delivery_service.retry_delivery(svc.db, session.principal.org_id, _uuid(delivery_id))
    return _see(f"/app/calls/{call_id}")


@router.post("/campaigns/{campaign_id}/{action}")
async def campaign_control(campaign_id: str, action: str, session: FormSession, svc: Svc) -> Response:
    if action not in CAMPAIGN_ACTIONS:
        raise HTTPException(404, "no such action")
    await campaign_service.control(svc.db, session.principal.org_id, _uuid(campaign_id), action)
    return _see(f"/app/campaigns/{campaign_id}")


# ---- analytics ---------------------------------------------------------------------------------

GROUPS: tuple[str, ...] = get_args(GroupBy)


@router.get("/analytics")
async def analytics_page(session: Session, svc: Svc, group_by: str = "call_source") -> Response:
    if group_by not in GROUPS:
        group_by = "call_source"
    stats = await analytics_service.call_stats(svc.db, session.principal.org_id, cast(GroupBy, group_by))
    return page("analytics.html", session, stats=stats, group_by=group_by, groups=GROUPS)


