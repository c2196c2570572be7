"""Browser calls: ``POST /v1/web-calls`` mints a short-lived token for one call (a business's
backend calls it and hands the answer to its page), and the browser's WebSocket runs the call
(docs/browser-calls.md)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, WebSocket
from pydantic import Field

from callwright.api.deps import Org, Svc, media_sessions_of
from callwright.api.errors import ErrorBody
from callwright.domain.common import JsonUuid, Out, Strict, UtcDatetime
from callwright.services.errors import Conflict
from callwright.services.web_calls import STREAM_PATH, NewWebCall, WebCalls, stream_refusal
from callwright.telephony.browser_stream import BrowserTransport
from callwright.voice.transport import TransportError

router = APIRouter(tags=["web calls"])
stream_router = APIRouter(tags=["web calls"], include_in_schema=False)


class WebCallCreate(Strict):
    """A call from a web browser to an agent."""

    agent_id: JsonUuid
    external_id: str | None = Field(
        default=None, min_length=1, max_length=200, pattern=r"^[^\x00-\x1f\x7f]+$",
        description="Who the caller is in your systems; sent to the dynamic context as `X-External-ID`.",
    )
    variables: dict[str, Any] | None = None
    metadata: dict[str, Any] | None = None
    context: str | dict[str, Any] | None = None
    first_message: str | None = Field(default=None, max_length=8 * 1024, pattern=r"^[^\x00]*$")
    call_source: str = Field(default="web", min_length=1, max_length=200, pattern=r"^[^\x00-\x1f\x7f]+$")


class WebCallOut(Out):
    call_id: str
    access_token: str = Field(description="For this call's stream only; give it to the browser, never the API key.")
    websocket_url: str = Field(description="Where the browser opens its WebSocket and sends the start message.")
    expires_at: UtcDatetime = Field(description="The browser must connect before this; the call then ends failed.")


def web_calls_of(request: Request) -> WebCalls:
    web: WebCalls | None = getattr(request.app.state, "web_calls", None)
    if web is None:
        raise Conflict("this process does not create web calls")
    return web


def public_base(request: Request, public_url: str) -> str:
    """This server as a browser reaches it: the public URL when one is set, else the address
    this request came to."""
    return public_url.rstrip("/") or str(request.base_url).rstrip("/")


def own_stream_url(request: Request, public_url: str) -> str:
    """This process's browser route, as the browser can reach it."""
    base = public_base(request, public_url)
    return base.replace("https://", "wss://", 1).replace("http://", "ws://", 1) + STREAM_PATH


@router.post(
    "/v1/web-calls",
    status_code=201,
    response_model=WebCallOut,
    responses={429: {"model": ErrorBody, "description": "The organization has its maximum of live calls"}},
)
async def create_web_call(body: WebCallCreate, request: Request, org: Org, svc: Svc) -> WebCallOut:
    """Start a call from a browser: the call is stored with `medium: web` and waits (`ringing`)
    for the browser to connect to `websocket_url` with `call_id` and `access_token` before
    `expires_at`. 409 when no process runs calls right now."""
    ticket = await web_calls_of(request).create(
        org.org_id,
        NewWebCall(
            agent_id=body.agent_id, external_id=body.external_id, variables=body.variables or {},
            metadata=body.metadata or {}, context=body.context, first_message=body.first_message,
            call_source=body.call_source,
        ),
    )
    return WebCallOut(
        call_id=str(ticket.call_id), access_token=ticket.access_token,
        websocket_url=ticket.stream_url or own_stream_url(request, svc.settings.public_url),
        expires_at=ticket.expires_at,
    )


@stream_router.websocket(STREAM_PATH)
async def browser_stream(websocket: WebSocket) -> None:
    """The browser's audio. Any origin may connect (the widget runs on the business's pages):
    the call's one-time token authenticates the stream."""
    media = media_sessions_of(websocket)
    if media is None:
        await websocket.close(code=1013, reason="this process does not run calls (no media role)")
        return
    await websocket.accept()
    transport = BrowserTransport(websocket)
    try:
        info = await transport.start()
    except TransportError:
        await transport.close()
        return
    params = info.custom_parameters
    refusal = await stream_refusal(media.db, params["call_id"], params["token"])
    if refusal is not None:
        await transport.refuse(refusal)
        return
    await media.handle(transport)
