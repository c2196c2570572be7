"""The dashboard's "Talk to this agent": a browser call with the agent through the microphone
and speaker, its live transcript, and the snippet that embeds the same call on a business's own
page (docs/browser-calls.md)."""


from __future__ import annotations

from fastapi import Request
from fastapi.responses import FileResponse, JSONResponse, Response

from callwright.api.web_calls import own_stream_url, public_base, web_calls_of
from callwright.services import agents as agent_service
from callwright.services.errors import NotFound, ServiceError
from callwright.services.web_calls import NewWebCall
from callwright.web.auth import FormSession, Session
from callwright.web.common import STATIC, Svc, as_uuid, router
from callwright.web.views import page

EMBEDDABLE = {"mic-worklet.js": "text/javascript"}
"""Files a third-party page loads in CORS mode (an AudioWorklet module is always fetched so)."""


def widget_snippet(base_url: str) -> str:
    return (
        f'<script src="{base_url}/app/static/widget.js"\n'
        '        data-token-url="/your-backend/callwright-token"\n'
        '        data-external-id="YOUR-CUSTOMER-ID" data-label="Talk to us" async></script>'
    )


@router.get("/agents/{agent_id}/talk")
async def talk_page(agent_id: str, request: Request, session: Session, svc: Svc) -> Response:
    agent = await agent_service.get_agent(svc.db, session.principal.org_id, as_uuid(agent_id), box=svc.secrets)
    snippet = widget_snippet(public_base(request, svc.settings.public_url))
    return page("talk.html", session, agent=agent, snippet=snippet)


@router.post("/agents/{agent_id}/talk")
async def talk_start(agent_id: str, request: Request, session: FormSession, svc: Svc) -> JSONResponse:
    """A web call with ``call_source: dashboard``; the page gets its token (never the API key)."""
    try:
        ticket = await web_calls_of(request).create(
            session.principal.org_id, NewWebCall(agent_id=as_uuid(agent_id), call_source="dashboard")
        )
    except NotFound:
        raise
    except ServiceError as exc:
        return JSONResponse({"error": exc.detail}, status_code=exc.status_code)
    return JSONResponse(
        {
            "call_id": str(ticket.call_id), "access_token": ticket.access_token,
            "websocket_url": ticket.stream_url or own_stream_url(request, svc.settings.public_url),
            "expires_at": ticket.expires_at.isoformat(), "call_url": f"/app/calls/{ticket.call_id}",
            "events_url": f"/app/calls/{ticket.call_id}/events",
        },
        status_code=201, headers={"Cache-Control": "no-store"},
    )


@router.get("/embed/{name}")
async def embeddable(name: str) -> FileResponse:
    """The widget's worklet for any origin (the widget itself and voice-call.js are plain
    scripts from /app/static, which need no CORS)."""
    if name not in EMBEDDABLE:
        raise NotFound("no such file")
    return FileResponse(
        STATIC / name, media_type=EMBEDDABLE[name],
        headers={"Access-Control-Allow-Origin": "*", "Cache-Control": "max-age=300"},
    )
