"""The session's view of the carrier's media stream, and two ways to provide it.

``MediaTransport`` is all a ``CallSession`` needs: events in, audio/marks/clear out. The
transport deals in μ-law frames exactly as the carrier does; decoding to 16 kHz PCM is the
session's job (it is per-call CPU work and keeps a transport a pure protocol adapter that can
also record or relay the wire audio untouched).

- ``WebSocketTransport`` speaks Twilio Media Streams over any WebSocket-like object with
  ``receive_text``/``send_text``/``close`` (Starlette's ``WebSocket`` has them).
- ``QueueTransport`` is in memory: a test (or an in-process carrier) pushes events and reads
  what the session sent.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import Literal, Protocol

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


class TransportError(Exception):
    """The stream broke: garbage from the carrier, a dropped socket, no ``start``."""


@dataclass(frozen=True, slots=True)
class StreamInfo:
    """What the carrier's ``start`` message told us."""

    stream_sid: str
    call_sid: str
    custom_parameters: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class AudioIn:
    """Caller audio: raw μ-law at 8 kHz, normally one 160-byte (20 ms) frame."""

    ulaw: bytes


@dataclass(frozen=True, slots=True)
class MarkPlayed:
    """The carrier played everything sent before the mark ``name`` (or cleared it)."""

    name: str


@dataclass(frozen=True, slots=True)
class DtmfIn:
    digit: str


@dataclass(frozen=True, slots=True)
class StreamStopped:
    """The carrier ended the stream (the call hung up)."""


InboundEvent = AudioIn | MarkPlayed | DtmfIn | StreamStopped


class MediaTransport(Protocol):
    """The carrier stream of one call, as the session sees it.

    ``start`` waits for the stream to begin and is idempotent (the server may call it first to
    read the custom parameters). ``receive`` returns None once the stream has ended and raises
    ``TransportError`` when it breaks.
    """

    async def start(self) -> StreamInfo: ...

    async def receive(self) -> InboundEvent | None: ...

    async def send_audio(self, ulaw_frame: bytes) -> None: ...

    async def send_mark(self, name: str) -> None: ...

    async def send_clear(self) -> None: ...

    async def close(self) -> None: ...


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


Sent = tuple[Literal["audio"], bytes] | tuple[Literal["mark"], str] | tuple[Literal["clear"], None]


class QueueTransport:
    """An in-memory media stream for tests and in-process carriers.

    The far end pushes with ``push_*`` (or ``feed`` for any event) and reads what the session
    sent from ``outbound`` (an ``asyncio.Queue`` of ``("audio", frame)``, ``("mark", name)``,
    ``("clear", None)``). ``sent`` keeps the same items as a list. ``fail(error)`` makes the
    next ``receive`` raise, like a broken socket; ``start_error`` makes ``start`` fail.
    """

    def __init__(self, info: StreamInfo | None = None, start_error: str | None = None) -> None:
        self.info = info or StreamInfo("MZ-test", "CA-test")
        self.start_error = start_error
        self.inbound: asyncio.Queue[InboundEvent | TransportError | None] = asyncio.Queue()
        self.outbound: asyncio.Queue[Sent] = asyncio.Queue()
        self.sent: list[Sent] = []
        self.closed = False
        self._ended = False

    async def start(self) -> StreamInfo:
        if self.start_error is not None:
            raise TransportError(self.start_error)
        return self.info

    def feed(self, event: InboundEvent) -> None:
        self.inbound.put_nowait(event)

    def push_audio(self, ulaw: bytes) -> None:
        self.feed(AudioIn(ulaw))

    def push_mark(self, name: str) -> None:
        self.feed(MarkPlayed(name))

    def push_dtmf(self, digit: str) -> None:
        self.feed(DtmfIn(digit))

    def stop(self) -> None:
        self.feed(StreamStopped())

    def end(self) -> None:
        """The stream ends without a ``stop`` (receive returns None)."""
        self.inbound.put_nowait(None)

    def fail(self, error: str) -> None:
        self.inbound.put_nowait(TransportError(error))

    async def receive(self) -> InboundEvent | None:
        if self._ended:
            return None
        item = await self.inbound.get()
        if isinstance(item, TransportError):
            self._ended = True
            raise item
        if item is None or isinstance(item, StreamStopped):
            self._ended = True
        return item

    def _put(self, item: Sent) -> None:
        if self.closed:
            return
        self.sent.append(item)
        self.outbound.put_nowait(item)

    async def send_audio(self, ulaw_frame: bytes) -> None:
        self._put(("audio", ulaw_frame))

    async def send_mark(self, name: str) -> None:
        self._put(("mark", name))

    async def send_clear(self) -> None:
        self._put(("clear", None))

    async def close(self) -> None:
        self.closed = True
