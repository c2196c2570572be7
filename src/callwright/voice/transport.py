"""The session's view of the carrier's media stream, and two ways to provide it.

``MediaTransport`` is all a ``CallSession`` needs: events in, audio/marks/clear out. The
transport deals in μ-law frames exactly as the carrier does; decoding to 16 kHz PCM is the
session's job (it is per-call CPU work and keeps a transport a pure protocol adapter that can
also record or relay the wire audio untouched).

- ``telephony.ws_transport.WebSocketTransport`` speaks Twilio Media Streams over a WebSocket.
- ``QueueTransport`` is in memory: a test (or an in-process carrier) pushes events and reads
  what the session sent.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Literal, Protocol


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
