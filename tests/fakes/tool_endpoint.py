"""A customer's tool API on loopback: a real HTTP server in a thread that takes every method an
HTTP tool may use, records what it receives and answers as the test says (a status, a body of
any content type, or a hang)."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass(frozen=True)
class ToolRequest:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # names lower-cased
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class ToolEndpoint:
    def __init__(self) -> None:
        self.requests: list[ToolRequest] = []
        self.status = 200
        self.body = b"{}"
        self.content_type = "application/json"
        self.hang = False
        self.release = threading.Event()
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                parts = urlsplit(self.path)
                endpoint.requests.append(
                    ToolRequest(
                        self.command, parts.path, parse_qs(parts.query),
                        {k.lower(): v for k, v in self.headers.items()}, self.rfile.read(length),
                    )
                )
                if endpoint.hang:
                    endpoint.release.wait(10)
                    return
                try:
                    self.send_response(endpoint.status)
                    if endpoint.content_type:
                        self.send_header("Content-Type", endpoint.content_type)
                    self.send_header("Content-Length", str(len(endpoint.body)))
                    self.end_headers()
                    self.wfile.write(endpoint.body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up, as it should past its timeout

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.02,), daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/tool"

    def reply(
        self, body: Any = None, *, status: int = 200, raw: bytes | None = None,
        content_type: str = "application/json",
    ) -> None:
        self.status = status
        self.content_type = content_type
        self.body = raw if raw is not None else json.dumps({} if body is None else body).encode()

    def __enter__(self) -> ToolEndpoint:
        self._thread.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.release.set()
        self._server.shutdown()
        self._server.server_close()
