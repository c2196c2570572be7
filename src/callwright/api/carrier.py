"""Carrier-facing routes (not for users): the bidirectional Media Streams WebSocket."""

from __future__ import annotations

from fastapi import APIRouter, WebSocket

from callwright.telephony.ws_transport import WebSocketTransport

router = APIRouter(tags=["carrier"], include_in_schema=False)


@router.websocket("/carrier/media-stream")
async def media_stream(websocket: WebSocket) -> None:
    """Twilio's Media Streams protocol; the per-call token in the ``start`` message's
    ``customParameters`` authenticates the stream."""
    runtime = getattr(websocket.app.state, "runtime", None)
    if runtime is None:
        await websocket.close(code=1013, reason="this process does not run calls")
        return
    await websocket.accept()
    await runtime.media.handle(WebSocketTransport(websocket))
