"""A local HTTP server that speaks OpenAI's Chat Completions protocol, scripted by the test.

Tests talk to it with the real ``openai`` client (or any HTTP client), so what is tested is the
code that runs in production, down to the bytes. It runs uvicorn in a background thread on
127.0.0.1 and a free port, so it serves sync and async tests alike::

    with FakeOpenAIServer(api_key="sk-test") as fake:          # or: async with ...
        fake.script(Reply.text("Hello!"), Reply.tool_call("lookup", {"id": 7}), Reply.error(500))
        client = AsyncOpenAI(base_url=fake.base_url, api_key="sk-test", max_retries=0)
        ...
        assert fake.completions[0]["model"] == "gpt-4o-mini"

Routes: ``POST /v1/chat/completions`` (checks ``Authorization: Bearer <api_key>``, records the
request, answers with the next scripted ``Reply``: a ``chat.completion`` object, or with
``"stream": true`` Server-Sent Events of ``chat.completion.chunk`` objects ending in
``data: [DONE]``) and ``GET /v1/models``.

A script entry is a ``Reply`` or a function from the request body to a ``Reply`` (to answer
from what was sent). When the script is empty the ``default`` answers; without one the server
answers 500, so a test that forgot to script a reply fails loudly. Failure modes: ``Reply.error``
(any status, e.g. 500 or 429), ``Reply.hang`` (no answer until the client gives up; released
when the server stops), ``Reply.invalid_json`` (a 200 whose body is not JSON), and for streams
``chunk_delay_s`` and ``break_after_chunks`` (the connection drops mid-stream).

Remember that the ``openai`` client retries 429 and 5xx twice by default: pass ``max_retries=0``
to see one request per reply, or script a reply per attempt.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
import threading
import time
import uuid
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

COMPLETIONS_PATH = "/v1/chat/completions"
MODELS_PATH = "/v1/models"


@dataclass(frozen=True)
class ToolCall:
    """A function call the scripted assistant makes; ``arguments`` may be a dict (sent as JSON)."""

    name: str
    arguments: dict[str, Any] | str = field(default_factory=dict)
    id: str | None = None

    def arguments_json(self) -> str:
        return self.arguments if isinstance(self.arguments, str) else json.dumps(self.arguments)


@dataclass(frozen=True)
class Reply:
    """One scripted answer. Build it with the class methods; fields tune the details."""

    content: str | None = None
    tool_calls: tuple[ToolCall, ...] = ()
    finish_reason: str | None = None  # default: "tool_calls" when there are tool calls, else "stop"
    status: int = 200
    error_message: str | None = None
    error_type: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0  # before anything is sent
    chunk_delay_s: float = 0.0  # between stream chunks
    chunk_chars: int = 6  # content characters per stream chunk
    break_after_chunks: int | None = None  # streams only: drop the connection after N chunks
    raw_body: str | None = None  # sent verbatim instead of a completion
    refusal: str | None = None
    model: str | None = None  # default: the model the request named

    @classmethod
    def text(cls, content: str, **details: Any) -> Reply:
        return cls(content=content, **details)

    @classmethod
    def json(cls, value: Any, **details: Any) -> Reply:
        """Content that is ``value`` as JSON (a structured-output answer)."""
        return cls(content=json.dumps(value), **details)

    @classmethod
    def tool_call(cls, name: str, arguments: dict[str, Any] | str | None = None, **details: Any) -> Reply:
        return cls(tool_calls=(ToolCall(name, arguments if arguments is not None else {}),), **details)

    @classmethod
    def tools(cls, *calls: ToolCall, content: str | None = None, **details: Any) -> Reply:
        """Several tool calls in one turn (optionally with text before them)."""
        return cls(content=content, tool_calls=calls, **details)

    @classmethod
    def error(cls, status: int = 500, message: str | None = None, **details: Any) -> Reply:
        kind = {401: "invalid_request_error", 429: "rate_limit_exceeded"}.get(status)
        kind = kind or ("server_error" if status >= 500 else "invalid_request_error")
        return cls(status=status, error_message=message or f"fake error {status}", error_type=kind, **details)

    @classmethod
    def hang(cls, seconds: float = 3600.0) -> Reply:
        """No answer for ``seconds`` (or until the server stops): the client's timeout fires."""
        return cls(content="", delay_s=seconds)

    @classmethod
    def invalid_json(cls, body: str = '{"id": "chatcmpl-broken", "choices": [') -> Reply:
        """A 200 ``application/json`` response whose body is not JSON."""
        return cls(raw_body=body)


Script = Reply | Callable[[dict[str, Any]], Reply]


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: Any  # parsed JSON, or the raw text when it was not JSON
    authorized: bool


class BrokenOnPurpose(ConnectionAbortedError):
    """Raised inside a stream to drop the connection (``Reply.break_after_chunks``)."""


class _QuietBreaks(logging.Filter):
    """Keep uvicorn from printing a traceback for a stream this fake broke on purpose."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and isinstance(record.exc_info[1], BrokenOnPurpose))


if not any(isinstance(f, _QuietBreaks) for f in logging.getLogger("uvicorn.error").filters):
    logging.getLogger("uvicorn.error").addFilter(_QuietBreaks())


def _free_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


def _usage(body: dict[str, Any], reply: Reply) -> dict[str, int]:
    """Rough whitespace token counts: enough for code that reads ``usage``."""
    prompt = 0
    for message in body.get("messages") or []:
        content = message.get("content") if isinstance(message, dict) else None
        prompt += len(str(content or "").split())
    completion = len((reply.content or "").split()) + sum(
        len(c.arguments_json().split()) + 1 for c in reply.tool_calls
    )
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


class FakeOpenAIServer:
    """The fake server; see the module docstring. ``api_key=None`` accepts any key or none."""

    def __init__(
        self,
        api_key: str | None = "sk-fake-test-key",
        models: tuple[str, ...] = ("fake-model",),
        default: Script | None = None,
    ) -> None:
        self.api_key = api_key
        self.models = models
        self.default = default
        self.requests: list[RecordedRequest] = []
        self._script: deque[Script] = deque()
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._release: asyncio.Event | None = None  # created on the server's loop
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._port: int | None = None

    # --- scripting and inspection -------------------------------------------------------------

    def script(self, *replies: Script) -> None:
        """Queue replies, answered in order, one per authorized completion request."""
        with self._lock:
            self._script.extend(replies)

    @property
    def pending(self) -> int:
        """Scripted replies not used yet."""
        with self._lock:
            return len(self._script)

    @property
    def completions(self) -> list[dict[str, Any]]:
        """The JSON bodies of the authorized chat completion requests, in order."""
        with self._lock:
            return [r.body for r in self.requests if r.path == COMPLETIONS_PATH and r.authorized]

    @property
    def last(self) -> dict[str, Any]:
        """The last authorized chat completion request body."""
        bodies = self.completions
        if not bodies:
            raise AssertionError("the fake OpenAI server received no completion request")
        return bodies[-1]

    def wait_for_requests(self, count: int, timeout_s: float = 5.0) -> list[RecordedRequest]:
        """Block until at least ``count`` requests arrived (any route); return them."""
        deadline = time.monotonic() + timeout_s
        with self._changed:
            while len(self.requests) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"expected {count} requests, got {len(self.requests)}")
                self._changed.wait(left)
            return list(self.requests)

    # --- life cycle ----------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """What to give an OpenAI client as ``base_url`` (ends in ``/v1``)."""
        if self._port is None:
            raise RuntimeError("the fake OpenAI server is not running")
        return f"http://127.0.0.1:{self._port}/v1"

    def start(self) -> FakeOpenAIServer:
        sock = _free_socket()
        self._port = sock.getsockname()[1]
        config = uvicorn.Config(
            self._app(), log_level="warning", lifespan="off", timeout_graceful_shutdown=1, ws="none"
        )
        self._server = uvicorn.Server(config)
        self._release = self._loop = None
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [sock]}, name="fake-openai", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the fake OpenAI server did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        if self._loop is not None and self._release is not None:
            with contextlib.suppress(RuntimeError):  # the loop may be gone already
                self._loop.call_soon_threadsafe(self._release.set)  # releases hanging replies
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._server = self._thread = None

    def __enter__(self) -> FakeOpenAIServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    async def __aenter__(self) -> FakeOpenAIServer:
        return await asyncio.to_thread(self.start)

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await asyncio.to_thread(self.stop)

    # --- the HTTP side -------------------------------------------------------------------------

    def _app(self) -> Starlette:
        return Starlette(
            routes=[
                Route(COMPLETIONS_PATH, self._completions, methods=["POST"]),
                Route(MODELS_PATH, self._list_models, methods=["GET"]),
            ]
        )

    def _authorized(self, request: Request) -> bool:
        return self.api_key is None or request.headers.get("authorization") == f"Bearer {self.api_key}"

    async def _record(self, request: Request) -> RecordedRequest:
        raw = (await request.body()).decode("utf-8", "replace")
        try:
            body: Any = json.loads(raw) if raw else None
        except ValueError:
            body = raw
        recorded = RecordedRequest(
            request.method, request.url.path, dict(request.headers), body, self._authorized(request)
        )
        with self._changed:
            self.requests.append(recorded)
            self._changed.notify_all()
        return recorded

    @staticmethod
    def _error(status: int, message: str, kind: str, code: str | None = None) -> JSONResponse:
        error = {"message": message, "type": kind, "param": None, "code": code}
        return JSONResponse({"error": error}, status_code=status)

    async def _sleep(self, seconds: float) -> None:
        """Wait, but no longer than until ``stop``: a hanging reply must not hold the server."""
        if self._release is None:
            self._release, self._loop = asyncio.Event(), asyncio.get_running_loop()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._release.wait(), seconds)

    def _next_reply(self, body: dict[str, Any]) -> Reply:
        with self._lock:
            entry = self._script.popleft() if self._script else self.default
        if entry is None:
            return Reply.error(500, "fake OpenAI server: no reply scripted for this request")
        return entry(body) if callable(entry) else entry

    async def _list_models(self, request: Request) -> Response:
        recorded = await self._record(request)
        if not recorded.authorized:
            return self._error(401, "Incorrect API key provided", "invalid_request_error", "invalid_api_key")
        data = [{"id": m, "object": "model", "created": 0, "owned_by": "callwright-tests"} for m in self.models]
        return JSONResponse({"object": "list", "data": data})

    async def _completions(self, request: Request) -> Response:
        recorded = await self._record(request)
        if not recorded.authorized:
            return self._error(401, "Incorrect API key provided", "invalid_request_error", "invalid_api_key")
        body = recorded.body
        if not isinstance(body, dict) or not isinstance(body.get("messages"), list) or not body.get("model"):
            message = "the body must be a JSON object with `model` and `messages`"
            return self._error(400, message, "invalid_request_error")
        reply = self._next_reply(body)
        if reply.delay_s:
            await self._sleep(reply.delay_s)
        if reply.status >= 400:
            response = self._error(reply.status, reply.error_message or "error", reply.error_type or "server_error")
            response.headers.update(reply.headers)
            return response
        if reply.raw_body is not None:
            return Response(
                reply.raw_body, status_code=reply.status, media_type="application/json", headers=reply.headers
            )
        if body.get("stream"):
            return StreamingResponse(
                self._stream(body, reply), media_type="text/event-stream", headers=reply.headers
            )
        return JSONResponse(self._completion(body, reply), status_code=reply.status, headers=reply.headers)

    @staticmethod
    def _finish_reason(reply: Reply) -> str:
        return reply.finish_reason or ("tool_calls" if reply.tool_calls else "stop")

    @staticmethod
    def _call_id(call: ToolCall, index: int) -> str:
        return call.id or f"call_fake_{index}_{uuid.uuid4().hex[:8]}"

    def _completion(self, body: dict[str, Any], reply: Reply) -> dict[str, Any]:
        message: dict[str, Any] = {"role": "assistant", "content": reply.content, "refusal": reply.refusal}
        if reply.tool_calls:
            message["tool_calls"] = [
                {
                    "id": self._call_id(call, i),
                    "type": "function",
                    "function": {"name": call.name, "arguments": call.arguments_json()},
                }
                for i, call in enumerate(reply.tool_calls)
            ]
        return {
            "id": f"chatcmpl-fake-{uuid.uuid4().hex[:12]}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": reply.model or body["model"],
            "system_fingerprint": "fp_fake",
            "choices": [
                {"index": 0, "message": message, "logprobs": None, "finish_reason": self._finish_reason(reply)}
            ],
            "usage": _usage(body, reply),
        }

    def _chunks(self, body: dict[str, Any], reply: Reply) -> list[dict[str, Any]]:
        """The ``chat.completion.chunk`` objects of a streamed reply, in order."""
        base = {
            "id": f"chatcmpl-fake-{uuid.uuid4().hex[:12]}",
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": reply.model or body["model"],
            "system_fingerprint": "fp_fake",
        }

        def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
            return {**base, "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]}

        chunks = [chunk({"role": "assistant", "content": ""})]
        content = reply.content or ""
        size = max(1, reply.chunk_chars)
        chunks += [chunk({"content": content[i : i + size]}) for i in range(0, len(content), size)]
        for index, call in enumerate(reply.tool_calls):
            arguments = call.arguments_json()
            head = {"index": index, "id": self._call_id(call, index), "type": "function"}
            chunks.append(chunk({"tool_calls": [{**head, "function": {"name": call.name, "arguments": ""}}]}))
            for i in range(0, len(arguments), size):
                piece = {"index": index, "function": {"arguments": arguments[i : i + size]}}
                chunks.append(chunk({"tool_calls": [piece]}))
        chunks.append(chunk({}, self._finish_reason(reply)))
        if (body.get("stream_options") or {}).get("include_usage"):
            chunks.append({**base, "choices": [], "usage": _usage(body, reply)})
        return chunks

    async def _stream(self, body: dict[str, Any], reply: Reply) -> AsyncIterator[bytes]:
        for number, item in enumerate(self._chunks(body, reply)):
            if reply.break_after_chunks is not None and number >= reply.break_after_chunks:
                raise BrokenOnPurpose("fake OpenAI server: stream broken on purpose")
            if number and reply.chunk_delay_s:
                await self._sleep(reply.chunk_delay_s)
            yield f"data: {json.dumps(item)}\n\n".encode()
        yield b"data: [DONE]\n\n"
