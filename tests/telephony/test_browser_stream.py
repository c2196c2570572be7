"""The browser's media stream adapter: the documented protocol in, the session's transport out,
and every kind of garbage a clean close with a code (docs/browser-calls.md)."""

from __future__ import annotations

import asyncio
import json
import math
import struct
from collections.abc import Mapping
from typing import Any

import pytest

from callwright.telephony.browser_stream import MAX_AUDIO_BYTES, BrowserTransport
from callwright.voice.audio import ulaw_decode
from callwright.voice.transport import AudioIn, DtmfIn, MarkPlayed, StreamStopped, TransportError

START = json.dumps({"type": "start", "call_id": "0b5a1c3e-0000-4000-8000-000000000001", "token": "tok"})


class ScriptedSocket:
    """Scripted inbound messages (text or bytes; None is a disconnect); then it waits."""

    def __init__(self, *script: str | bytes | None) -> None:
        self.script = list(script)
        self.sent: list[str | bytes] = []
        self.closed: tuple[int, str | None] | None = None

    async def receive(self) -> Mapping[str, Any]:
        if not self.script:
            await asyncio.sleep(3600)
        item = self.script.pop(0)
        if item is None:
            return {"type": "websocket.disconnect", "code": 1001}
        if isinstance(item, bytes):
            return {"type": "websocket.receive", "bytes": item}
        return {"type": "websocket.receive", "text": item}

    async def send_bytes(self, data: bytes) -> None:
        self.sent.append(data)

    async def send_text(self, data: str) -> None:
        self.sent.append(data)

    async def close(self, code: int = 1000, reason: str | None = None) -> None:
        self.closed = (code, reason)


def tone(seconds: float, hz: float = 440.0) -> bytes:
    n = int(16000 * seconds)
    return struct.pack(f"<{n}h", *(int(8000 * math.sin(2 * math.pi * hz * i / 16000)) for i in range(n)))


async def started(*script: str | bytes | None) -> tuple[BrowserTransport, ScriptedSocket]:
    socket = ScriptedSocket(START, *script)
    transport = BrowserTransport(socket)
    await transport.start()
    return transport, socket


async def test_the_start_message_gives_the_call_id_and_token() -> None:
    transport, _ = await started()
    info = await transport.start()
    assert info.custom_parameters == {"call_id": "0b5a1c3e-0000-4000-8000-000000000001", "token": "tok"}


async def test_microphone_pcm_becomes_the_carriers_20_ms_ulaw_frames() -> None:
    transport, _ = await started(tone(0.5))
    frames = [await transport.receive() for _ in range(24)]  # 25 frames minus the resampler's held tail
    assert all(isinstance(f, AudioIn) and len(f.ulaw) == 160 for f in frames)
    loud = ulaw_decode(b"".join(f.ulaw for f in frames if isinstance(f, AudioIn))[1600:])
    samples = struct.unpack(f"<{len(loud) // 2}h", loud)
    assert max(abs(s) for s in samples) > 5000


async def test_marks_keys_and_hang_up_become_session_events() -> None:
    transport, _ = await started(
        json.dumps({"type": "mark", "name": "listen:confirm"}), json.dumps({"type": "dtmf", "digit": "7"}),
        json.dumps({"type": "hangup"}),
    )
    assert await transport.receive() == MarkPlayed("listen:confirm")
    assert await transport.receive() == DtmfIn("7")
    assert isinstance(await transport.receive(), StreamStopped)
    assert await transport.receive() is None


async def test_a_closed_tab_is_the_caller_hanging_up() -> None:
    transport, _ = await started(None)
    assert isinstance(await transport.receive(), StreamStopped)


async def test_the_agents_audio_goes_out_as_pcm_with_marks_and_clear_as_json() -> None:
    transport, socket = await started()
    await transport.send_audio(b"\xff" * 160)
    await transport.send_mark("say:1")
    await transport.send_clear()
    await transport.close()
    audio, mark, clear, end = socket.sent
    assert isinstance(audio, bytes) and len(audio) == 640
    assert json.loads(str(mark)) == {"type": "mark", "name": "say:1"}
    assert json.loads(str(clear)) == {"type": "clear"}
    assert json.loads(str(end)) == {"type": "end"}
    assert socket.closed == (1000, None)


@pytest.mark.parametrize(
    ("message", "code"),
    [
        (b"\0" * (MAX_AUDIO_BYTES + 2), 1009),
        (b"\0" * 641, 1002),
        ("{not json", 1002),
        ("[1, 2]", 1002),
        (json.dumps({"type": "launch"}), 1002),
        (json.dumps({"type": "dtmf", "digit": "77"}), 1002),
        (json.dumps({"type": "mark"}), 1002),
        ("x" * 5000, 1009),
    ],
)
async def test_garbage_ends_the_stream_with_a_close_code(message: str | bytes, code: int) -> None:
    transport, socket = await started(message)
    with pytest.raises(TransportError):
        await transport.receive()
    await transport.close()
    assert socket.closed is not None and socket.closed[0] == code
    assert await transport.receive() is None


async def test_audio_faster_than_real_time_is_refused() -> None:
    transport, socket = await started(*[b"\0" * 32000] * 4)
    with pytest.raises(TransportError, match="faster than real time"):
        for _ in range(400):
            await transport.receive()
    await transport.close()
    assert socket.closed is not None and socket.closed[0] == 1008


@pytest.mark.parametrize(
    "first",
    [b"\0" * 640, json.dumps({"type": "mark", "name": "x"}), json.dumps({"type": "start", "call_id": 5, "token": "t"})],
)
async def test_a_stream_that_does_not_open_with_a_start_message_is_refused(first: str | bytes) -> None:
    transport = BrowserTransport(ScriptedSocket(first))
    with pytest.raises(TransportError):
        await transport.start()


async def test_a_stream_that_never_starts_times_out() -> None:
    transport = BrowserTransport(ScriptedSocket(), start_timeout_s=0.05)
    with pytest.raises(TransportError, match="no start message"):
        await transport.start()
