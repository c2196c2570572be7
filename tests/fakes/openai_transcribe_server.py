"""A local HTTP server that speaks OpenAI's transcription endpoint, ``POST /v1/audio/transcriptions``.

The real client code talks to it over HTTP on 127.0.0.1 (uvicorn in a background thread, as
:mod:`tests.fakes.openai_server`), so sync and async tests alike can use it::

    async with FakeTranscribeServer(api_key="sk-test") as fake:
        fake.script(TranscribeReply.text("yes"), TranscribeReply.error(500))
        stt = OpenAITranscriber("sk-test", base_url=fake.base_url)
        ...
        assert fake.uploads[0].rate == 16000

The route checks ``Authorization: Bearer <api_key>`` (401 with OpenAI's error body otherwise),
parses the multipart form (400 without ``file`` or ``model``), reads the file as a WAV (400 when
it is not one: "Invalid file format"), records it as an :class:`Upload`, and answers with the
next scripted :class:`TranscribeReply` (``default`` when the script is empty): ``{"text": ...}``.

Failure modes: ``TranscribeReply.error(status)`` (401, 429, 500, ...), ``hang()`` (no answer
until the client gives up), ``json(body)`` (a 200 whose body is not ``{"text": ...}``).
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import threading
import time
import wave
from collections import deque
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.datastructures import FormData, UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.fakes.openai_server import _free_socket

TRANSCRIPTIONS_PATH = "/v1/audio/transcriptions"


@dataclass(frozen=True)
class TranscribeReply:
    """One scripted answer. Build it with the class methods."""

    status: int = 200
    text_: str | None = None  # None: the server's ``transcript``
    delay_s: float = 0.0
    json_body: Any = None

    @classmethod
    def text(cls, text: str) -> TranscribeReply:
        return cls(text_=text)

    @classmethod
    def error(cls, status: int = 500) -> TranscribeReply:
        return cls(status=status)

    @classmethod
    def hang(cls, seconds: float = 3600.0) -> TranscribeReply:
        return cls(delay_s=seconds)

    @classmethod
    def json(cls, body: Any) -> TranscribeReply:
        return cls(json_body=body)


@dataclass
class Upload:
    """One request: its headers, form fields and the WAV's format and samples."""

    headers: dict[str, str]
    authorized: bool
    fields: dict[str, str] = field(default_factory=dict)
    filename: str | None = None
    content_type: str | None = None
    rate: int | None = None
    channels: int | None = None
    sample_width: int | None = None
    pcm: bytes = b""

    @property
    def duration_s(self) -> float:
        return len(self.pcm) / 2 / self.rate if self.rate else 0.0


class FakeTranscribeServer:
    """The fake server; see the module docstring. ``api_key=None`` accepts any key or none."""

    def __init__(self, api_key: str | None = "sk-fake-test-key") -> None:
        self.api_key = api_key
        self.transcript = "hello world"
        self.default = TranscribeReply()
        self.uploads: list[Upload] = []
        self._script: deque[TranscribeReply] = deque()
        self._lock = threading.Lock()
        self._release: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._port: int | None = None

    def script(self, *replies: TranscribeReply) -> None:
        with self._lock:
            self._script.extend(replies)

    @property
    def base_url(self) -> str:
        """What to give the transcriber as ``base_url`` (ends in ``/v1``)."""
        if self._port is None:
            raise RuntimeError("the fake transcription server is not running")
        return f"http://127.0.0.1:{self._port}/v1"

    # --- life cycle ----------------------------------------------------------------------------

    def start(self) -> FakeTranscribeServer:
        sock = _free_socket()
        self._port = sock.getsockname()[1]
        app = Starlette(routes=[Route(TRANSCRIPTIONS_PATH, self._transcribe, methods=["POST"])])
        config = uvicorn.Config(app, log_level="warning", lifespan="off", timeout_graceful_shutdown=1, ws="none")
        self._server = uvicorn.Server(config)
        self._release = self._loop = None
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [sock]}, name="fake-openai-transcribe", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the fake transcription server did not start")
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

    def __enter__(self) -> FakeTranscribeServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    async def __aenter__(self) -> FakeTranscribeServer:
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

    async def _transcribe(self, request: Request) -> Response:
        authorized = self.api_key is None or request.headers.get("authorization") == f"Bearer {self.api_key}"
        upload = Upload(dict(request.headers), authorized)
        with self._lock:
            self.uploads.append(upload)
        if not authorized:
            return self._error(401, "Incorrect API key provided", "invalid_request_error", "invalid_api_key")
        async with request.form() as form:  # closes the uploaded file's spool
            return await self._answer(upload, form)

    async def _answer(self, upload: Upload, form: FormData) -> Response:
        file = form.get("file")
        upload.fields = {k: v for k, v in form.items() if isinstance(v, str)}
        if not isinstance(file, UploadFile) or not isinstance(form.get("model"), str):
            return self._error(400, "the form needs `file` and `model`", "invalid_request_error")
        upload.filename, upload.content_type = file.filename, file.content_type
        data = await file.read()
        try:
            with wave.open(io.BytesIO(data), "rb") as wav:
                upload.rate, upload.channels = wav.getframerate(), wav.getnchannels()
                upload.sample_width = wav.getsampwidth()
                upload.pcm = wav.readframes(wav.getnframes())
        except (wave.Error, EOFError):
            return self._error(400, "Invalid file format.", "invalid_request_error")
        with self._lock:
            reply = self._script.popleft() if self._script else self.default
        if reply.delay_s:
            await self._sleep(reply.delay_s)
        if reply.status >= 400:
            kind = "server_error" if reply.status >= 500 else "invalid_request_error"
            return self._error(reply.status, f"fake error {reply.status}", kind)
        if reply.json_body is not None:
            return JSONResponse(reply.json_body)
        return JSONResponse({"text": self.transcript if reply.text_ is None else reply.text_})
