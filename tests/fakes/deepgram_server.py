"""A local WebSocket server that speaks Deepgram's live streaming protocol (``/v1/listen``).

Tests point the real client at it (``base_url=fake.base_url``), so the bytes on the wire are the
ones production sends. A ``websockets`` server on 127.0.0.1 and a free port, in a background
thread with its own event loop::

    async with FakeDeepgramServer(api_key="dg-test") as fake:
        fake.script(Behaviour.transcribe("hello", "world"), Behaviour.hang())
        stt = DeepgramTranscriber("dg-test", base_url=fake.base_url)
        ...
        assert fake.connections[0].headers["authorization"] == "Token dg-test"

A handshake without ``Authorization: Token <api_key>`` is refused with HTTP 401 (and a
``dg-error`` header, as Deepgram does). Binary frames are audio: as it arrives, the scripted transcript
advances one step per ``ms_per_word`` of audio (at the ``sample_rate`` of the query): a step
reveals one more word of the current segment in an interim ``Results`` message
(``is_final: false``) or, once all its words are revealed, sends the segment as final
(``is_final: true``). Text
frames are control messages: ``Finalize`` sends what is left as final (``from_finalize``),
``CloseStream`` does the same, then sends ``Metadata`` and closes normally; ``KeepAlive`` is
ignored; anything else is answered with close 1008, as Deepgram does for a broken protocol.

Failure modes (one :class:`Behaviour` per connection, scripted in order; ``default`` when the
script is empty): ``reject(status)`` (the handshake answered with that status), ``hang()``
(takes audio, never answers, never closes), ``malformed()`` (a frame that is not JSON after
the first audio), ``close_after(frames, code)`` (that many audio frames, then a close with
``code``: 1011 is Deepgram's for an internal error), ``drop_after(frames)`` (the TCP
connection cut, no close frame).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from http import HTTPStatus
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

LISTEN_PATH = "/v1/listen"


@dataclass(frozen=True)
class Behaviour:
    """How the fake answers one connection. Build it with the class methods."""

    kind: str = "transcribe"
    segments: tuple[str, ...] | None = None  # None: the server's ``transcript``
    status: int = 401
    after_frames: int = 0
    code: int = 1011

    @classmethod
    def transcribe(cls, *segments: str) -> Behaviour:
        return cls("transcribe", segments=segments or None)

    @classmethod
    def reject(cls, status: int = 401) -> Behaviour:
        return cls("reject", status=status)

    @classmethod
    def hang(cls) -> Behaviour:
        return cls("hang")

    @classmethod
    def malformed(cls) -> Behaviour:
        return cls("malformed")

    @classmethod
    def close_after(cls, frames: int, code: int = 1011) -> Behaviour:
        return cls("close", after_frames=frames, code=code)

    @classmethod
    def drop_after(cls, frames: int) -> Behaviour:
        return cls("drop", after_frames=frames)


@dataclass
class Connection:
    """What one client sent: the handshake, the audio and the control messages."""

    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    authorized: bool
    audio: bytearray = field(default_factory=bytearray)
    frames: int = 0
    controls: list[Any] = field(default_factory=list)
    sent: list[dict[str, Any]] = field(default_factory=list)

    def param(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[-1] if values else None


class FakeDeepgramServer:
    """The fake server; see the module docstring. ``api_key=None`` accepts any key or none."""

    def __init__(self, api_key: str | None = "dg-fake-test-key", ms_per_word: int = 100) -> None:
        self.api_key = api_key
        self.ms_per_word = ms_per_word
        self.transcript: tuple[str, ...] = ("hello world",)  # segments, for ``transcribe()``
        self.default = Behaviour.transcribe()
        self.connections: list[Connection] = []
        self._script: deque[Behaviour] = deque()
        self._lock = threading.Lock()
        self._by_request: dict[int, tuple[Connection, Behaviour]] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread: threading.Thread | None = None
        self._port: int | None = None

    def script(self, *behaviours: Behaviour) -> None:
        """Queue behaviours, one per connection, in order."""
        with self._lock:
            self._script.extend(behaviours)

    @property
    def base_url(self) -> str:
        if self._port is None:
            raise RuntimeError("the fake Deepgram server is not running")
        return f"ws://127.0.0.1:{self._port}"

    # --- life cycle ----------------------------------------------------------------------------

    def start(self) -> FakeDeepgramServer:
        ready = threading.Event()
        failure: list[BaseException] = []

        async def main() -> None:
            self._loop = asyncio.get_running_loop()
            self._stop = asyncio.Event()
            try:
                server: Server = await serve(
                    self._handle, "127.0.0.1", 0, process_request=self._handshake, close_timeout=1
                )
            except BaseException as exc:
                failure.append(exc)
                ready.set()
                raise
            async with server:
                self._port = next(iter(server.sockets)).getsockname()[1]
                ready.set()
                await self._stop.wait()
                server.close(close_connections=True)
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(2):
                        await server.wait_closed()

        self._thread = threading.Thread(target=asyncio.run, args=(main(),), name="fake-deepgram", daemon=True)
        self._thread.start()
        if not ready.wait(10) or failure:
            raise RuntimeError(f"the fake Deepgram server did not start: {failure}")
        return self

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None:
            with contextlib.suppress(RuntimeError):
                self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._thread = self._loop = self._stop = None

    def __enter__(self) -> FakeDeepgramServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    async def __aenter__(self) -> FakeDeepgramServer:
        return await asyncio.to_thread(self.start)

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await asyncio.to_thread(self.stop)

    def wait_for_connections(self, count: int, timeout_s: float = 5.0) -> list[Connection]:
        deadline = time.monotonic() + timeout_s
        while True:
            with self._lock:
                if len(self.connections) >= count:
                    return list(self.connections)
            if time.monotonic() > deadline:
                raise AssertionError(f"expected {count} connections, got {len(self.connections)}")
            time.sleep(0.01)

    # --- the protocol --------------------------------------------------------------------------

    def _handshake(self, ws: ServerConnection, request: Request) -> Response | None:
        url = urlsplit(request.path)
        headers = {k.lower(): v for k, v in request.headers.raw_items()}
        authorized = self.api_key is None or headers.get("authorization") == f"Token {self.api_key}"
        connection = Connection(url.path, parse_qs(url.query), headers, authorized)
        with self._lock:
            behaviour = self._script.popleft() if self._script else self.default
            self.connections.append(connection)
            self._by_request[id(ws)] = (connection, behaviour)
        if url.path != LISTEN_PATH:
            return ws.respond(HTTPStatus.NOT_FOUND, "no such route\n")
        if not authorized:
            return _with_error(ws.respond(HTTPStatus.UNAUTHORIZED, "Invalid credentials.\n"), "Invalid credentials.")
        if behaviour.kind == "reject":
            return _with_error(ws.respond(behaviour.status, f"rejected with {behaviour.status}\n"), "rejected")
        return None

    async def _handle(self, ws: ServerConnection) -> None:
        with self._lock:
            connection, behaviour = self._by_request.pop(id(ws))
        with contextlib.suppress(ConnectionClosed):
            await _Stream(self, ws, connection, behaviour).run()


def _with_error(response: Response, message: str) -> Response:
    headers = Headers(response.headers)
    headers["dg-error"] = message
    return Response(response.status_code, response.reason_phrase, headers, response.body)


class _Stream:
    """One connection's conversation: words revealed as audio arrives, finals on request."""

    def __init__(self, fake: FakeDeepgramServer, ws: ServerConnection, connection: Connection, behaviour: Behaviour):
        self.fake, self.ws, self.connection, self.behaviour = fake, ws, connection, behaviour
        segments = behaviour.segments if behaviour.segments is not None else fake.transcript
        self.segments = [s.split() for s in segments if s.split()]
        self.segment = 0  # the segment being revealed
        self.revealed = 0  # words of it revealed so far
        rate = int(connection.param("sample_rate") or 16000)
        self.bytes_per_word = max(2, 2 * rate * fake.ms_per_word // 1000)
        self.start_s = 0.0

    async def run(self) -> None:
        kind = self.behaviour.kind
        async for frame in self.ws:
            if isinstance(frame, bytes):
                self.connection.audio += frame
                self.connection.frames += 1
                if kind == "hang":
                    continue
                if kind == "malformed":
                    await self.ws.send('{"type": "Results", "channel": {"alternatives": [')
                    continue
                if kind in ("close", "drop") and self.connection.frames >= self.behaviour.after_frames:
                    if kind == "drop":
                        self.ws.transport.abort()
                    else:
                        await self.ws.close(self.behaviour.code, "NET-0001: internal error")
                    return
                await self._reveal()
                continue
            try:
                message: Any = json.loads(frame)
            except ValueError:
                message = frame
            self.connection.controls.append(message)
            kind_of = message.get("type") if isinstance(message, dict) else None
            if kind == "hang" or kind_of == "KeepAlive":
                continue
            if kind_of == "Finalize":
                await self._finalize(from_finalize=True)
            elif kind_of == "CloseStream":
                await self._finalize(from_finalize=True)
                await self._send(
                    {
                        "type": "Metadata",
                        "request_id": str(uuid.uuid4()),
                        "channels": 1,
                        "duration": self._duration(),
                        "transaction_key": "deprecated",
                    }
                )
                await self.ws.close()
                return
            else:
                await self.ws.close(1008, "DATA-0000: unknown control message")
                return

    def _duration(self) -> float:
        rate = int(self.connection.param("sample_rate") or 16000)
        return len(self.connection.audio) / 2 / rate

    async def _reveal(self) -> None:
        """One step per ``ms_per_word`` of audio: a word more, or a completed segment going final."""
        want = len(self.connection.audio) // self.bytes_per_word  # words revealed in all
        done_before = sum(len(s) + 1 for s in self.segments[: self.segment]) + self.revealed  # a final takes a step
        for _ in range(want - done_before):
            if self.segment >= len(self.segments):
                return
            words = self.segments[self.segment]
            if self.revealed == len(words):
                await self._result(" ".join(words), final=True)
                self.segment, self.revealed = self.segment + 1, 0
                continue
            self.revealed += 1
            await self._result(" ".join(words[: self.revealed]), final=False)

    async def _finalize(self, from_finalize: bool) -> None:
        while self.segment < len(self.segments):
            await self._result(" ".join(self.segments[self.segment]), final=True, from_finalize=from_finalize)
            self.segment, self.revealed = self.segment + 1, 0

    async def _result(self, transcript: str, final: bool, from_finalize: bool = False) -> None:
        duration = self._duration()
        message: dict[str, Any] = {
            "type": "Results",
            "channel_index": [0, 1],
            "duration": round(duration - self.start_s, 3),
            "start": round(self.start_s, 3),
            "is_final": final,
            "speech_final": final,
            "channel": {"alternatives": [{"transcript": transcript, "confidence": 0.9 if final else 0.6, "words": []}]},
            "metadata": {"request_id": "fake", "model_info": {"name": self.connection.param("model") or ""}},
            "from_finalize": from_finalize,
        }
        if final:
            self.start_s = duration
        await self._send(message)

    async def _send(self, message: dict[str, Any]) -> None:
        self.connection.sent.append(message)
        await self.ws.send(json.dumps(message))
