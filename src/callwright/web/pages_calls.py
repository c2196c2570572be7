"""The dashboard's call pages: the list, "Call a number", a call's record and its live view."""


from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

from fastapi import Request
from fastapi.responses import FileResponse, Response, StreamingResponse

from callwright.services import agents as agent_service
from callwright.services import campaigns as campaign_service
from callwright.services import conversations as read
from callwright.services import dashboard_sessions
from callwright.services.calls import NewCall
from callwright.services.errors import NotFound, ServiceError
from callwright.services.webhooks import deliveries as delivery_service
from callwright.web.auth import (
    FormSession,
    Session,
)
from callwright.web.common import (
    STATUSES,
    Svc,
    as_uuid,
    opt_date,
    opt_uuid,
    problem,
    router,
    see,
    signed_out,
    sse,
)
from callwright.web.views import page


@router.get("/calls")
async def calls_page(
    session: Session, svc: Svc, status: str = "", agent_id: str = "", campaign_id: str = "",
    call_source: str = "", created_after: str = "", created_before: str = "", cursor: str = "",
) -> Response:
    org_id = session.principal.org_id
    data, nxt = await read.list_conversations(
        svc.db, org_id, limit=50, cursor=cursor or None, agent_id=opt_uuid(agent_id),
        campaign_id=opt_uuid(campaign_id), status=status or None, call_source=call_source or None,
        created_after=opt_date(created_after), created_before=opt_date(created_before),
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
            agent_id=as_uuid(fields.get("agent_id", "")), to=fields.get("to", "").strip() or None,
            first_message=fields.get("first_message") or None, call_source="dashboard", variables=variables,
        )
        call = await svc.calls.create(session.principal.org_id, new)
    except (ServiceError, ValueError) as exc:
        agents, _ = await agent_service.list_agents(
            svc.db, session.principal.org_id, 200, None, False, box=svc.secrets
        )
        message = problem(exc)
        return page("call_new.html", session, status_code=422, agents=agents, error=message, form=fields)
    return see(f"/app/calls/{call.id}")


LATENCY_STAGES: tuple[tuple[str, str], ...] = (
    ("endpointing", "#94a3b8"), ("stt", "#f59e0b"), ("dialogue", "#8b5cf6"), ("tools", "#ec4899"),
    ("tts", "#10b981"), ("overhead", "#64748b"),
)
"""The stages of a turn's response latency in the record's ``latency.turns`` (``<stage>_ms``), in
the order they happen, with the colour each gets in the chart."""
LATENCY_WIDTH = 480.0
LATENCY_LEGEND = [
    (name, fill, 60 + sum(24 + 7 * len(n) for n, _ in LATENCY_STAGES[:i]))
    for i, (name, fill) in enumerate(LATENCY_STAGES)
]
"""The chart's legend: each stage's name, colour and x (its name is about 7 px a letter at 12 px)."""


def _latency_chart(latency: dict[str, Any] | None) -> list[dict[str, Any]]:
    """Per turn, end of the caller's speech to the agent's first audio as stacked bars (one part
    per stage, scaled to the slowest turn), so the chart shows where the time went."""
    turns = (latency or {}).get("turns")
    rows: list[dict[str, Any]] = []
    for turn in turns if isinstance(turns, list) else []:
        if not isinstance(turn, dict) or not isinstance(turn.get("total_ms"), (int, float)):
            continue
        parts = [
            {"name": name, "ms": float(turn[f"{name}_ms"]), "fill": fill}
            for name, fill in LATENCY_STAGES if isinstance(turn.get(f"{name}_ms"), (int, float))
        ]
        rows.append({"n": len(rows) + 1, "total": float(turn["total_ms"]), "parts": parts})
    top = max((r["total"] for r in rows), default=0.0) or 1.0
    for row in rows:
        x = 0.0
        for part in row["parts"]:
            part["x"], part["w"] = round(x, 1), round(LATENCY_WIDTH * part["ms"] / top, 1)
            x += part["w"]
        row["w"] = round(LATENCY_WIDTH * row["total"] / top, 1)
    return rows


@router.get("/calls/{call_id}")
async def call_page(call_id: str, session: Session, svc: Svc) -> Response:
    org_id = session.principal.org_id
    call = await read.get_conversation(svc.db, org_id, as_uuid(call_id))
    page_of = await delivery_service.list_deliveries(svc.db, org_id, call_id=as_uuid(call_id), limit=100)
    try:
        agent = await agent_service.get_agent(svc.db, org_id, as_uuid(call.agent_id), box=svc.secrets)
        agent_name: str | None = agent.name
    except NotFound:
        agent_name = None
    return page(
        "call.html", session, call=call, deliveries=page_of.data, latency=_latency_chart(call.latency),
        legend=LATENCY_LEGEND, chart_width=LATENCY_WIDTH, agent_name=agent_name,
        live=call.status in ("queued", "dialing", "ringing", "in_progress"),
        cancelable=call.status in ("scheduled", "queued", "dialing", "ringing", "in_progress"),
    )


@router.get("/calls/{call_id}/recording")
async def call_recording(call_id: str, session: Session, svc: Svc) -> FileResponse:
    """The stereo recording for the page's <audio> player, behind the session like the API's route."""
    path = await read.recording_file(svc.db, session.principal.org_id, as_uuid(call_id), svc.settings.data_dir)
    return FileResponse(path, media_type="audio/wav")


@router.post("/calls/{call_id}/cancel")
async def call_cancel(call_id: str, session: FormSession, svc: Svc) -> Response:
    try:
        await svc.calls.cancel(session.principal.org_id, as_uuid(call_id))
    except NotFound:
        raise
    except ServiceError:
        pass  # already ended: the page shows its final state
    return see(f"/app/calls/{call_id}")




@router.get("/calls/{call_id}/events")
async def call_events(call_id: str, request: Request, session: Session, svc: Svc) -> StreamingResponse:
    """Server-Sent Events for the live view: new transcript turns, status changes and the call's
    events, read server-side from the row the media session keeps current, until the call ends."""
    cid = as_uuid(call_id)
    org_id = session.principal.org_id
    if await dashboard_sessions.live_state(svc.db, org_id, cid, 0) is None:
        raise NotFound("no such call")

    async def stream() -> AsyncIterator[str]:
        sent: list[dict[str, Any]] = []
        events = 0
        status = ""
        for tick in range(3600 * 2):  # an hour at most per connection; EventSource reconnects
            state = await dashboard_sessions.live_state(svc.db, org_id, cid, events)
            if state is None or await signed_out(request, tick):
                return
            # A turn grows while it is spoken: send each new or changed turn with its index.
            for index, turn in enumerate(state.transcript):
                if index >= len(sent) or sent[index] != turn:
                    yield sse("turn", {"index": index, **turn})
            sent = list(state.transcript)
            for event in state.events:
                yield sse("event", event)
            events += len(state.events)
            if state.status != status:
                status = state.status
                yield sse("status", {"status": status})
            if state.ended:
                # The stored transcript is final (merged, redacted): it replaces the live one.
                yield sse("transcript", state.transcript)
                yield sse("end", {"status": status})
                return
            yield ": keep-alive\n\n"
            await asyncio.sleep(0.5)

    headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    return StreamingResponse(stream(), media_type="text/event-stream", headers=headers)

@router.post("/calls/{call_id}/deliveries/{delivery_id}/retry")
async def delivery_retry(call_id: str, delivery_id: str, session: FormSession, svc: Svc) -> Response:
    """Send a webhook delivery again, as ``POST /v1/webhook-deliveries/{id}/retry`` does."""
    await delivery_service.retry_delivery(svc.db, session.principal.org_id, as_uuid(delivery_id))
    return see(f"/app/calls/{call_id}")
