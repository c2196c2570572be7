"""A local WebSocket server that speaks ElevenLabs' ``stream-input`` text-to-speech protocol.

Tests point the real client at it (``base_url=fake.base_url``), so the bytes on the wire are
the ones production sends. It runs a ``websockets`` server on 127.0.0.1 and a free port, in a
background thread with its own event loop, so it serves sync and async tests alike::

    async with FakeElevenLabsServer(api_key="xi-test") as fake:
        fake.script(Behaviour.speak(), Behaviour.hang())
        synth = ElevenLabsSynthesizer("xi-test", "voice-1", base_url=fake.base_url)
        ...
        assert fake.connections[0].headers["xi-api-key"] == "xi-test"

Route: ``/v1/text-to-speech/{voice_id}/stream-input?model_id=...&output_format=pcm_<rate>``.
A handshake without the right ``xi-api-key`` header is refused with HTTP 401. The first
message must open the stream (``{"text": " "}``, optionally with ``voice_settings``),
else the server sends an error message and closes with 1008, as ElevenLabs does for a broken
protocol. Text messages are collected until ``{"text": ""}``; then the server speaks the text:
real PCM16 (:class:`ToneSynthesizer`'s buzz, 60 ms a character in whole 20 ms frames, at the
requested rate) in ``{"audio": <base64>, "isFinal": null, ...}`` messages of ``chunk_ms``
each, then ``{"isFinal": true}``, then a normal close.

Failure modes (one :class:`Behaviour` per connection, scripted in order; ``default`` when the
script is empty): ``reject(status)`` (the handshake answered with that HTTP status),
``hang()`` (accepts, never speaks), ``hang_after(n)`` (n chunks, then silence),
``malformed()`` (a frame that is not JSON), ``drop_after(n)`` (n chunks, then the TCP
connection is cut, no close frame), ``error(message)`` (an error message and close 1008).
A refused connection is :func:`refused_url`: a port where nothing listens.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http import HTTPStatus
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from callwright.voice.audio import SAMPLE_RATE, Resampler
from callwright.voice.tts.tone import ToneSynthesizer

PATH_PREFIX = "/v1/text-to-speech/"
PATH_SUFFIX = "/stream-input"


def speech_pcm(text: str, rate: int = SAMPLE_RATE) -> bytes:
    """The PCM16 mono the fake speaks for ``text`` at ``rate``: what a test can expect back."""
    pcm = ToneSynthesizer().synthesize_sync(text)
    if rate == SAMPLE_RATE or not pcm:
        return pcm
    resampler = Resampler(SAMPLE_RATE, rate, low_latency=False)
    return resampler.process(pcm) + resampler.flush()


def refused_url() -> str:
    """A ws:// base URL on 127.0.0.1 where nothing listens: connecting is refused at once."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"ws://127.0.0.1:{port}"


@dataclass(frozen=True)
class Behaviour:
    """How the fake answers one connection. Build it with the class methods."""

    kind: str = "speak"
    status: int = 401
    after_chunks: int = 0
    message: str = ""

    @classmethod
    def speak(cls) -> Behaviour:
        return cls("speak")

    @classmethod
    def reject(cls, status: int = 401) -> Behaviour:
        return cls("reject", status=status)

    @classmethod
    def hang(cls) -> Behaviour:
        return cls("hang")

    @classmethod
    def hang_after(cls, chunks: int) -> Behaviour:
        return cls("hang", after_chunks=chunks)

    @classmethod
    def malformed(cls) -> Behaviour:
        return cls("malformed")

    @classmethod
    def drop_after(cls, chunks: int) -> Behaviour:
        return cls("drop", after_chunks=chunks)

    @classmethod
    def error(cls, message: str = "Quota exceeded") -> Behaviour:
        return cls("error", message=message)


@dataclass
class Connection:
    """What one client sent: the handshake and every message (parsed JSON, else the raw text)."""

    path: str
    voice_id: str
    query: dict[str, str]
    headers: dict[str, str]
    authorized: bool
    messages: list[Any] = field(default_factory=list)

    @property
    def text(self) -> str:
        """The text sent for speaking (all ``text`` fields after the opening one, joined)."""
        return "".join(m.get("text", "") for m in self.messages[1:] if isinstance(m, dict))


class FakeElevenLabsServer:
    """The fake server; see the module docstring. ``api_key=None`` accepts any key or none."""

    def __init__(self, api_key: str | None = "xi-fake-test-key", chunk_ms: int = 100) -> None:
        self.api_key = api_key
        self.chunk_ms = chunk_ms
        self.default = Behaviour.speak()
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
            raise RuntimeError("the fake ElevenLabs server is not running")
        return f"ws://127.0.0.1:{self._port}"

    # --- life cycle ----------------------------------------------------------------------------

    def start(self) -> FakeElevenLabsServer:
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

        self._thread = threading.Thread(target=asyncio.run, args=(main(),), name="fake-elevenlabs", daemon=True)
        self._thread.start()
        if not ready.wait(10) or failure:
            raise RuntimeError(f"the fake ElevenLabs server did not start: {failure}")
        return self

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None:
            with contextlib.suppress(RuntimeError):
                self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._thread = self._loop = self._stop = None

    def __enter__(self) -> FakeElevenLabsServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    async def __aenter__(self) -> FakeElevenLabsServer:
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
        authorized = self.api_key is None or headers.get("xi-api-key") == self.api_key
        voice_id = url.path.removeprefix(PATH_PREFIX).removesuffix(PATH_SUFFIX)
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        connection = Connection(url.path, voice_id, query, headers, authorized)
        with self._lock:
            behaviour = self._script.popleft() if self._script else self.default
            self.connections.append(connection)
            self._by_request[id(ws)] = (connection, behaviour)
        if not (url.path.startswith(PATH_PREFIX) and url.path.endswith(PATH_SUFFIX) and voice_id):
            return ws.respond(HTTPStatus.NOT_FOUND, "no such route\n")
        if not authorized:
            return ws.respond(HTTPStatus.UNAUTHORIZED, "invalid api key\n")
        if behaviour.kind == "reject":
            return ws.respond(behaviour.status, f"rejected with {behaviour.status}\n")
        return None

    async def _handle(self, ws: ServerConnection) -> None:
        with self._lock:
            connection, behaviour = self._by_request.pop(id(ws))
        try:
            await self._converse(ws, connection, behaviour)
        except ConnectionClosed:
            pass

    async def _converse(self, ws: ServerConnection, connection: Connection, behaviour: Behaviour) -> None:
        # Read until the end-of-input message ({"text": ""}).
        async for frame in ws:
            try:
                message: Any = json.loads(frame)
            except ValueError:
                message = frame
            with self._lock:
                connection.messages.append(message)
            if len(connection.messages) == 1 and not (isinstance(message, dict) and message.get("text") == " "):
                await self._fail(ws, "the first message must be the opening {\"text\": \" \"}")
                return
            if isinstance(message, dict) and message.get("text") == "" and len(connection.messages) > 1:
                break
        else:
            return  # the client went away before the end of input
        if behaviour.kind == "error":
            await self._fail(ws, behaviour.message)
            return
        if behaviour.kind == "malformed":
            await ws.send('{"audio": "AAAA", "isFinal": nul')
            await self._idle(ws)
            return
        if behaviour.kind == "hang" and behaviour.after_chunks == 0:
            await self._idle(ws)
            return
        rate = int(connection.query.get("output_format", "pcm_16000").removeprefix("pcm_"))
        pcm = speech_pcm(connection.text.strip(), rate)
        step = 2 * rate * self.chunk_ms // 1000
        chunks = [pcm[i : i + step] for i in range(0, len(pcm), step)]
        for sent, chunk in enumerate(chunks):
            if behaviour.kind in ("hang", "drop") and sent == behaviour.after_chunks:
                if behaviour.kind == "drop":
                    ws.transport.abort()  # no close frame: the client sees 1006
                    return
                await self._idle(ws)
                return
            audio = base64.b64encode(chunk).decode()
            await ws.send(json.dumps({"audio": audio, "isFinal": None, "normalizedAlignment": None, "alignment": None}))
        await ws.send(json.dumps({"isFinal": True}))
        await ws.close()

    async def _fail(self, ws: ServerConnection, message: str) -> None:
        await ws.send(json.dumps({"message": message, "error": "policy_violation", "code": 1008}))
        await ws.close(1008, message[:100])

    async def _idle(self, ws: ServerConnection) -> None:
        """Say nothing more until the client leaves or the server stops."""
        async for _ in ws:
            pass
