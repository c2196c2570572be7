"""Twilio Media Streams over a WebSocket: the carrier edge of a call's media.

``WebSocketTransport`` speaks the protocol over any WebSocket-like object with
``receive_text``/``send_text``/``close`` (Starlette's ``WebSocket`` has them) and gives the
session the ``MediaTransport`` it needs. The simulated carrier and Twilio share it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Protocol

from callwright.telephony.media_stream import (
    Connected,
    Dtmf,
    Mark,
    Media,
    ProtocolError,
    Start,
    Stop,
    encode_clear,
    encode_mark,
    encode_media,
    media_prefix,
    parse_inbound,
)
from callwright.voice.transport import (
    AudioIn,
    DtmfIn,
    InboundEvent,
    MarkPlayed,
    StreamInfo,
    StreamStopped,
    TransportError,
)


class TextSocket(Protocol):
    """The slice of a WebSocket this module uses (Starlette's ``WebSocket`` fits)."""

    def receive_text(self) -> Awaitable[str]: ...

    def send_text(self, data: str) -> Awaitable[None]: ...

    def close(self) -> Awaitable[None]: ...


class WebSocketTransport:
    """Twilio Media Streams over a WebSocket.

    ``start`` reads ``connected`` then ``start`` (within ``start_timeout_s``); afterwards
    ``stream_sid``, ``call_sid`` and ``custom_parameters`` are known. Any exception from the
    socket while receiving (disconnect, closed) becomes ``TransportError``; after a ``stop``
    or a failure ``receive`` returns None.
    """

    def __init__(self, socket: TextSocket, start_timeout_s: float = 10.0) -> None:
        self._socket = socket
        self._start_timeout_s = start_timeout_s
        self._info: StreamInfo | None = None
        self._media_prefix: str | None = None
        self._ended = False
        self._closed = False

    @property
    def stream_sid(self) -> str:
        return self._require_info().stream_sid

    @property
    def call_sid(self) -> str:
        return self._require_info().call_sid

    @property
    def custom_parameters(self) -> dict[str, str]:
        return self._require_info().custom_parameters

    def _require_info(self) -> StreamInfo:
        if self._info is None:
            raise RuntimeError("the stream has not started; await start() first")
        return self._info

    async def start(self) -> StreamInfo:
        if self._info is not None:
            return self._info
        try:
            async with asyncio.timeout(self._start_timeout_s):
                while True:
                    message = parse_inbound(await self._receive_text())
                    if isinstance(message, Connected):
                        continue
                    if isinstance(message, Start):
                        self._info = StreamInfo(
                            message.stream_sid, message.call_sid, dict(message.custom_parameters)
                        )
                        return self._info
                    raise TransportError(f"expected 'start', got {type(message).__name__.lower()!r}")
        except TimeoutError:
            self._ended = True
            raise TransportError(f"no 'start' within {self._start_timeout_s:g} s") from None
        except ProtocolError as exc:
            self._ended = True
            raise TransportError(f"protocol error before start: {exc}") from exc

    async def receive(self) -> InboundEvent | None:
        if self._ended:
            return None
        self._require_info()
        while True:
            try:
                message = parse_inbound(await self._receive_text())
            except ProtocolError as exc:
                self._ended = True
                raise TransportError(f"protocol error: {exc}") from exc
            if isinstance(message, Media):
                return AudioIn(message.payload)
            if isinstance(message, Mark):
                return MarkPlayed(message.name)
            if isinstance(message, Dtmf):
                return DtmfIn(message.digit)
            if isinstance(message, Stop):
                self._ended = True
                return StreamStopped()
            # A repeated 'connected' or 'start' carries nothing new.

    async def _receive_text(self) -> str:
        try:
            return await self._socket.receive_text()
        except (asyncio.CancelledError, TransportError):
            raise
        except Exception as exc:  # the socket library's disconnect types vary
            self._ended = True
            raise TransportError(f"stream dropped: {type(exc).__name__}: {exc}") from exc

    async def _send(self, text: str) -> None:
        if self._closed:
            return
        try:
            await self._socket.send_text(text)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self._ended = True
            raise TransportError(f"send failed: {type(exc).__name__}: {exc}") from exc

    async def send_audio(self, ulaw_frame: bytes) -> None:
        if self._media_prefix is None:
            self._media_prefix = media_prefix(self.stream_sid)
        await self._send(encode_media(self.stream_sid, ulaw_frame, self._media_prefix))

    async def send_mark(self, name: str) -> None:
        await self._send(encode_mark(self.stream_sid, name))

    async def send_clear(self) -> None:
        await self._send(encode_clear(self.stream_sid))

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._ended = True
        try:
            await self._socket.close()
        except Exception:  # already closed by the peer: nothing to do
            pass
