"""Carrier-facing routes (not for users): the bidirectional Media Streams WebSocket."""

from __future__ import annotations

from fastapi import APIRouter, WebSocket

from callwright.api.deps import media_sessions_of
from callwright.telephony.ws_transport import WebSocketTransport

router = APIRouter(tags=["carrier"], include_in_schema=False)


@router.websocket("/carrier/media-stream")
async def media_stream(websocket: WebSocket) -> None:
    """Twilio's Media Streams protocol; the per-call token in the ``start`` message's
    ``customParameters`` authenticates the stream. Served by `serve` and by a `worker`, in
    whichever process has the ``media`` role."""
    media = media_sessions_of(websocket)
    if media is None:
        await websocket.close(code=1013, reason="this process does not run calls (no media role)")
        return
    await websocket.accept()
    await media.handle(WebSocketTransport(websocket))
