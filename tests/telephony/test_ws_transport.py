"""The carrier stream adapters: Media Streams over a WebSocket, and the in-memory queue."""

from __future__ import annotations

import asyncio

import pytest

from callwright.telephony.media_stream import (
    Clear,
    PlayMark,
    PlayMedia,
    encode_connected,
    encode_dtmf,
    encode_inbound_media,
    encode_mark_echo,
    encode_start,
    encode_stop,
    parse_outbound,
)
from callwright.telephony.ws_transport import WebSocketTransport
from callwright.voice.transport import (
    AudioIn,
    DtmfIn,
    MarkPlayed,
    QueueTransport,
    StreamStopped,
    TransportError,
)

SID = "MZ123"


class FakeSocket:
    """Scripted inbound texts; an Exception in the script is raised by receive_text."""

    def __init__(self, script: list[str | Exception], hang: bool = False) -> None:
        self.script = list(script)
        self.sent: list[str] = []
        self.closed = False
        self.hang = hang

    async def receive_text(self) -> str:
        if not self.script:
            if self.hang:
                await asyncio.sleep(3600)
            raise ConnectionError("socket closed")
        item = self.script.pop(0)
        if isinstance(item, Exception):
            raise item
        return item

    async def send_text(self, data: str) -> None:
        self.sent.append(data)

    async def close(self) -> None:
        self.closed = True


def opening() -> list[str | Exception]:
    return [encode_connected(), encode_start(SID, "AC1", "CA1", {"call_id": "c-1", "token": "t"})]


async def test_start_reads_connected_and_start() -> None:
    transport = WebSocketTransport(FakeSocket(opening()))
    info = await transport.start()
    assert (info.stream_sid, info.call_sid) == (SID, "CA1")
    assert transport.custom_parameters == {"call_id": "c-1", "token": "t"}
    assert await transport.start() is info


async def test_inbound_messages_become_events() -> None:
    script = [
        *opening(),
        encode_inbound_media(SID, 3, 1, 0, b"\x01" * 160),
        encode_mark_echo(SID, 4, "say:1"),
        encode_dtmf(SID, 5, "7"),
        encode_stop(SID, 6, "AC1", "CA1"),
    ]
    transport = WebSocketTransport(FakeSocket(script))
    await transport.start()
    events = [await transport.receive() for _ in range(5)]
    assert events == [AudioIn(b"\x01" * 160), MarkPlayed("say:1"), DtmfIn("7"), StreamStopped(), None]


async def test_garbage_raises_transport_error() -> None:
    transport = WebSocketTransport(FakeSocket([*opening(), "{not json"]))
    await transport.start()
    with pytest.raises(TransportError, match="protocol error"):
        await transport.receive()
    assert await transport.receive() is None


async def test_dropped_socket_raises_transport_error() -> None:
    transport = WebSocketTransport(FakeSocket(opening()))
    await transport.start()
    with pytest.raises(TransportError, match="dropped"):
        await transport.receive()


async def test_media_before_start_is_an_error() -> None:
    transport = WebSocketTransport(FakeSocket([encode_connected(), encode_inbound_media(SID, 1, 1, 0, b"\xff")]))
    with pytest.raises(TransportError, match="expected 'start'"):
        await transport.start()


async def test_missing_start_times_out() -> None:
    transport = WebSocketTransport(FakeSocket([encode_connected()], hang=True), start_timeout_s=0.05)
    with pytest.raises(TransportError, match="no 'start'"):
        await transport.start()


async def test_outbound_messages_carry_the_stream_sid() -> None:
    socket = FakeSocket(opening())
    transport = WebSocketTransport(socket)
    await transport.start()
    await transport.send_audio(b"\x00" * 160)
    await transport.send_mark("listen:confirm")
    await transport.send_clear()
    assert [parse_outbound(s) for s in socket.sent] == [
        PlayMedia(SID, b"\x00" * 160),
        PlayMark(SID, "listen:confirm"),
        Clear(SID),
    ]


async def test_close_closes_the_socket_once() -> None:
    socket = FakeSocket(opening())
    transport = WebSocketTransport(socket)
    await transport.close()
    await transport.close()
    assert socket.closed


async def test_queue_transport_round_trip() -> None:
    transport = QueueTransport()
    transport.push_audio(b"\xff" * 160)
    transport.fail("boom")
    assert await transport.receive() == AudioIn(b"\xff" * 160)
    with pytest.raises(TransportError):
        await transport.receive()
    await transport.send_mark("say:1")
    assert transport.outbound.get_nowait() == ("mark", "say:1")
