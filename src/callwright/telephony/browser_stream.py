"""A browser's microphone and speaker as a call's media stream (docs/browser-calls.md).

The protocol, over one WebSocket:

- browser -> server, text: ``{"type": "start", "call_id", "token"}`` first (within
  ``start_timeout_s``); then ``{"type": "mark", "name"}`` once the audio sent before that mark
  has played, ``{"type": "dtmf", "digit"}`` for a key, ``{"type": "hangup"}`` to end the call.
- browser -> server, binary: microphone audio, PCM16 little-endian mono at 16 kHz, any length
  up to ``MAX_AUDIO_BYTES`` per message, no faster than real time (plus a burst allowance).
- server -> browser, binary: the agent's audio, PCM16 LE mono 16 kHz, 20 ms per message, paced.
- server -> browser, text: ``{"type": "mark", "name"}`` (echo it when the audio before it has
  played), ``{"type": "clear"}`` (drop unplayed audio and echo every pending mark at once),
  ``{"type": "end"}`` just before the server closes the socket.

``BrowserTransport`` turns this into the ``MediaTransport`` a ``CallSession`` runs on: the
browser's PCM becomes the μ-law 8 kHz frames a carrier would send, and the session's frames are
decoded back for playback. Anything malformed ends the stream with a close code, never an
exception out of the transport's methods other than ``TransportError``.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections import deque
from collections.abc import Awaitable, Mapping
from typing import Any, Protocol

from callwright.voice.audio import SAMPLE_RATE, CarrierDecoder, CarrierEncoder
from callwright.voice.transport import (
    AudioIn,
    DtmfIn,
    InboundEvent,
    MarkPlayed,
    StreamInfo,
    StreamStopped,
    TransportError,
)

MAX_AUDIO_BYTES = 32_000
"""One binary message: at most 1 s of 16 kHz PCM16."""
MAX_TEXT_BYTES = 1024
BURST_S = 2.0
"""How far ahead of real time the microphone may run (a tab that was paused catches up)."""
DTMF_DIGITS = frozenset("0123456789*#ABCD")
MAX_MARK_NAME = 200

CLOSE_NORMAL = 1000
CLOSE_PROTOCOL = 1002
CLOSE_POLICY = 1008
CLOSE_TOO_BIG = 1009


class BrowserSocket(Protocol):
    """The slice of a WebSocket this module uses (Starlette's ``WebSocket`` fits): ``receive``
    returns ASGI messages (``websocket.receive`` with ``bytes`` or ``text``, or
    ``websocket.disconnect``)."""

    def receive(self) -> Awaitable[Mapping[str, Any]]: ...

    def send_bytes(self, data: bytes) -> Awaitable[None]: ...

    def send_text(self, data: str) -> Awaitable[None]: ...

    def close(self, code: int = 1000, reason: str | None = None) -> Awaitable[None]: ...


class _Refused(TransportError):
    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


class BrowserTransport:
    """A browser call's media stream; see the module docstring for the protocol."""

    def __init__(self, socket: BrowserSocket, start_timeout_s: float = 10.0) -> None:
        self._socket = socket
        self._start_timeout_s = start_timeout_s
        self._info: StreamInfo | None = None
        self._encoder = CarrierEncoder()
        self._decoder = CarrierDecoder()
        self._pending: deque[InboundEvent] = deque()
        self._ended = False
        self._closed = False
        self._close_code = CLOSE_NORMAL
        self._close_reason = ""
        self._first_audio_at: float | None = None
        self._samples_in = 0

    async def start(self) -> StreamInfo:
        if self._info is not None:
            return self._info
        try:
            async with asyncio.timeout(self._start_timeout_s):
                message = await self._next_message()
        except TimeoutError:
            raise self._fail(f"no start message within {self._start_timeout_s:g} s", CLOSE_POLICY) from None
        text = message.get("text")
        if text is None:
            raise self._fail("the first message must be the JSON start message", CLOSE_PROTOCOL)
        data = self._json(text)
        if data.get("type") != "start":
            raise self._fail("the first message must be the JSON start message", CLOSE_PROTOCOL)
        call_id, token = data.get("call_id"), data.get("token")
        if not isinstance(call_id, str) or not isinstance(token, str) or len(call_id) > 64 or len(token) > 256:
            raise self._fail("the start message needs call_id and token as strings", CLOSE_PROTOCOL)
        self._info = StreamInfo(f"WB{uuid.uuid4().hex}", call_id, {"call_id": call_id, "token": token})
        return self._info

    async def receive(self) -> InboundEvent | None:
        if self._pending:
            return self._pending.popleft()
        if self._ended:
            return None
        if self._info is None:
            raise RuntimeError("the stream has not started; await start() first")
        while True:
            message = await self._next_message()
            if message.get("type") == "websocket.disconnect":
                self._ended = True
                return StreamStopped()  # the tab closed or the network went: the caller hung up
            raw = message.get("bytes")
            if raw is not None:
                frames = self._audio(raw)
                if not frames:
                    continue
                self._pending.extend(AudioIn(frame) for frame in frames[1:])
                return AudioIn(frames[0])
            event = self._control(self._json(message.get("text") or ""))
            if event is not None:
                if isinstance(event, StreamStopped):
                    self._ended = True
                return event

    def _audio(self, raw: bytes) -> list[bytes]:
        if len(raw) > MAX_AUDIO_BYTES:
            raise self._fail(f"an audio message is over {MAX_AUDIO_BYTES} bytes", CLOSE_TOO_BIG)
        if len(raw) % 2:
            raise self._fail("audio must be whole 16-bit samples", CLOSE_PROTOCOL)
        now = time.monotonic()
        if self._first_audio_at is None:
            self._first_audio_at = now
        self._samples_in += len(raw) // 2
        allowed = (now - self._first_audio_at + BURST_S) * SAMPLE_RATE
        if self._samples_in > allowed:
            raise self._fail("audio arrives faster than real time", CLOSE_POLICY)
        return self._encoder.encode(raw)

    def _control(self, data: dict[str, Any]) -> InboundEvent | None:
        kind = data.get("type")
        if kind == "mark":
            name = data.get("name")
            if not isinstance(name, str) or not name or len(name) > MAX_MARK_NAME:
                raise self._fail("a mark message needs its name", CLOSE_PROTOCOL)
            return MarkPlayed(name)
        if kind == "dtmf":
            digit = data.get("digit")
            if not isinstance(digit, str) or digit not in DTMF_DIGITS:
                raise self._fail("a dtmf message needs one digit of 0-9, *, #, A-D", CLOSE_PROTOCOL)
            return DtmfIn(digit)
        if kind == "hangup":
            return StreamStopped()
        if kind == "start":
            return None  # a repeated start carries nothing new
        raise self._fail(f"unknown message type {str(kind)[:40]!r}", CLOSE_PROTOCOL)

    def _json(self, text: str) -> dict[str, Any]:
        if len(text.encode()) > MAX_TEXT_BYTES:
            raise self._fail(f"a text message is over {MAX_TEXT_BYTES} bytes", CLOSE_TOO_BIG)
        try:
            data = json.loads(text)
        except ValueError:
            raise self._fail("a text message is not JSON", CLOSE_PROTOCOL) from None
        if not isinstance(data, dict):
            raise self._fail("a text message must be a JSON object", CLOSE_PROTOCOL)
        return data

    async def _next_message(self) -> Mapping[str, Any]:
        try:
            return await self._socket.receive()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the socket library's disconnect types vary
            self._ended = True
            raise TransportError(f"stream dropped: {type(exc).__name__}: {exc}") from exc

    def _fail(self, message: str, code: int) -> _Refused:
        self._ended = True
        self._close_code, self._close_reason = code, message
        return _Refused(message, code)

    async def _send(self, send: Awaitable[None]) -> None:
        try:
            await send
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self._ended = True
            raise TransportError(f"send failed: {type(exc).__name__}: {exc}") from exc

    async def send_audio(self, ulaw_frame: bytes) -> None:
        if self._closed:
            return
        await self._send(self._socket.send_bytes(self._decoder.decode(ulaw_frame)))

    async def send_mark(self, name: str) -> None:
        if self._closed:
            return
        await self._send(self._socket.send_text(json.dumps({"type": "mark", "name": name})))

    async def send_clear(self) -> None:
        if self._closed:
            return
        await self._send(self._socket.send_text('{"type": "clear"}'))

    async def close(self) -> None:
        """Tell the browser the call is over, then close with the reason a refusal gave."""
        if self._closed:
            return
        self._closed = True
        self._ended = True
        try:
            if self._close_code == CLOSE_NORMAL:
                await self._socket.send_text('{"type": "end"}')
            await self._socket.close(self._close_code, self._close_reason[:120] or None)
        except Exception:  # already closed by the browser: nothing to do
            pass

    async def refuse(self, reason: str) -> None:
        """Close a stream that may not run (a bad token, an expired one) with ``reason``."""
        self._close_code, self._close_reason = CLOSE_POLICY, reason
        await self.close()
