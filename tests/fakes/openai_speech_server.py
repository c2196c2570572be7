"""A local HTTP server that speaks OpenAI's speech endpoint, ``POST /v1/audio/speech``.

The real client code talks to it over HTTP on 127.0.0.1 (uvicorn in a background thread, as
:mod:`tests.fakes.openai_server`), so sync and async tests alike can use it::

    async with FakeSpeechServer(api_key="sk-test") as fake:
        fake.script(SpeechReply.error(500))
        synth = OpenAISpeechSynthesizer("sk-test", base_url=fake.base_url)
        ...
        assert fake.requests[0].body["response_format"] == "pcm"

The route checks ``Authorization: Bearer <api_key>`` (401 with OpenAI's error body otherwise)
and that the body has ``model``, ``input`` and ``voice`` (400 otherwise), records the request,
and answers with the next scripted :class:`SpeechReply` (``default`` when the script is empty):
real PCM16 mono at 24 kHz (:class:`ToneSynthesizer`'s buzz for the input, resampled; see
:func:`speech_pcm_24k`) streamed in chunks of ``chunk_ms`` as ``audio/pcm``. ``response_format``
other than ``pcm`` is refused with 400: the fake speaks only what the client should ask for.

Failure modes: ``SpeechReply.error(status)`` (401, 429, 500, ...), ``hang()`` (no answer until
the client gives up), ``hang_after(n)`` (n chunks, then nothing), ``drop_after(n)`` (n chunks,
then the connection is cut mid-body), ``json(body)`` (a 200 that is JSON, not audio).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import time
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from callwright.voice.audio import SAMPLE_RATE, Resampler
from callwright.voice.tts.tone import ToneSynthesizer
from tests.fakes.openai_server import BrokenOnPurpose, RecordedRequest, _free_socket

SPEECH_PATH = "/v1/audio/speech"
PCM_RATE = 24000


def speech_pcm_24k(text: str) -> bytes:
    """The PCM16 mono 24 kHz the fake speaks for ``text``: 60 ms a character, in 20 ms frames."""
    pcm = ToneSynthesizer().synthesize_sync(text)
    if not pcm:
        return b""
    resampler = Resampler(SAMPLE_RATE, PCM_RATE, low_latency=False)
    return resampler.process(pcm) + resampler.flush()


@dataclass(frozen=True)
class SpeechReply:
    """One scripted answer. Build it with the class methods."""

    status: int = 200
    delay_s: float = 0.0  # before anything is sent
    stall_after_chunks: int | None = None  # send this many chunks, then nothing
    break_after_chunks: int | None = None  # send this many chunks, then cut the connection
    json_body: Any = None  # a 200 application/json answer instead of audio

    @classmethod
    def speak(cls) -> SpeechReply:
        return cls()

    @classmethod
    def error(cls, status: int = 500) -> SpeechReply:
        return cls(status=status)

    @classmethod
    def hang(cls, seconds: float = 3600.0) -> SpeechReply:
        return cls(delay_s=seconds)

    @classmethod
    def hang_after(cls, chunks: int) -> SpeechReply:
        return cls(stall_after_chunks=chunks)

    @classmethod
    def drop_after(cls, chunks: int) -> SpeechReply:
        return cls(break_after_chunks=chunks)

    @classmethod
    def json(cls, body: Any) -> SpeechReply:
        return cls(json_body=body)


class FakeSpeechServer:
    """The fake server; see the module docstring. ``api_key=None`` accepts any key or none."""

    def __init__(
        self, api_key: str | None = "sk-fake-test-key", chunk_ms: int = 100, chunk_bytes: int | None = None
    ) -> None:
        self.api_key = api_key
        self.chunk_ms = chunk_ms
        self.chunk_bytes = chunk_bytes  # overrides chunk_ms; an odd size splits samples across chunks
        self.default = SpeechReply.speak()
        self.requests: list[RecordedRequest] = []
        self._script: deque[SpeechReply] = deque()
        self._lock = threading.Lock()
        self._release: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._port: int | None = None

    def script(self, *replies: SpeechReply) -> None:
        with self._lock:
            self._script.extend(replies)

    @property
    def base_url(self) -> str:
        """What to give the synthesizer as ``base_url`` (ends in ``/v1``)."""
        if self._port is None:
            raise RuntimeError("the fake speech server is not running")
        return f"http://127.0.0.1:{self._port}/v1"

    # --- life cycle ----------------------------------------------------------------------------

    def start(self) -> FakeSpeechServer:
        sock = _free_socket()
        self._port = sock.getsockname()[1]
        app = Starlette(routes=[Route(SPEECH_PATH, self._speech, methods=["POST"])])
        config = uvicorn.Config(app, log_level="warning", lifespan="off", timeout_graceful_shutdown=1, ws="none")
        self._server = uvicorn.Server(config)
        self._release = self._loop = None
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [sock]}, name="fake-openai-speech", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the fake speech server did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        if self._loop is not None and self._release is not None:
            with contextlib.suppress(RuntimeError):
                self._loop.call_soon_threadsafe(self._release.set)
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._server = self._thread = None

    def __enter__(self) -> FakeSpeechServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    async def __aenter__(self) -> FakeSpeechServer:
        return await asyncio.to_thread(self.start)

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await asyncio.to_thread(self.stop)

    # --- the HTTP side -------------------------------------------------------------------------

    async def _sleep(self, seconds: float) -> None:
        """Wait, but no longer than until ``stop``."""
        if self._release is None:
            self._release, self._loop = asyncio.Event(), asyncio.get_running_loop()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._release.wait(), seconds)

    @staticmethod
    def _error(status: int, message: str, kind: str, code: str | None = None) -> JSONResponse:
        return JSONResponse({"error": {"message": message, "type": kind, "param": None, "code": code}}, status)

    async def _speech(self, request: Request) -> Response:
        raw = (await request.body()).decode("utf-8", "replace")
        try:
            body: Any = json.loads(raw) if raw else None
        except ValueError:
            body = raw
        authorized = self.api_key is None or request.headers.get("authorization") == f"Bearer {self.api_key}"
        with self._lock:
            self.requests.append(RecordedRequest("POST", request.url.path, dict(request.headers), body, authorized))
        if not authorized:
            return self._error(401, "Incorrect API key provided", "invalid_request_error", "invalid_api_key")
        if not isinstance(body, dict) or not all(isinstance(body.get(k), str) for k in ("model", "input", "voice")):
            return self._error(400, "the body needs `model`, `input` and `voice`", "invalid_request_error")
        if body.get("response_format") != "pcm":
            return self._error(400, "this fake speaks only response_format pcm", "invalid_request_error")
        with self._lock:
            reply = self._script.popleft() if self._script else self.default
        if reply.delay_s:
            await self._sleep(reply.delay_s)
        if reply.status >= 400:
            kind = "server_error" if reply.status >= 500 else "invalid_request_error"
            return self._error(reply.status, f"fake error {reply.status}", kind)
        if reply.json_body is not None:
            return JSONResponse(reply.json_body)
        return StreamingResponse(self._stream(body["input"], reply), media_type="audio/pcm")

    async def _stream(self, text: str, reply: SpeechReply) -> AsyncIterator[bytes]:
        pcm = speech_pcm_24k(text)
        step = self.chunk_bytes or 2 * PCM_RATE * self.chunk_ms // 1000
        for number, i in enumerate(range(0, len(pcm), step)):
            if reply.break_after_chunks is not None and number >= reply.break_after_chunks:
                raise BrokenOnPurpose("fake speech server: stream broken on purpose")
            if reply.stall_after_chunks is not None and number >= reply.stall_after_chunks:
                await self._sleep(3600)
                return
            yield pcm[i : i + step]
