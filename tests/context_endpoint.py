"""A customer's dynamic-context API on loopback: a real HTTP server in a thread that records what
it receives and answers what the test told it to (a body, a status, junk, a hang, 50 MB)."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]  # names lower-cased
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class ContextEndpoint:
    def __init__(self) -> None:
        self.requests: list[Seen] = []
        self.status = 200
        self.body = b"{}"
        self.headers: dict[str, str] = {}
        self.hang = False
        self.stream_bytes = 0  # > 0: send this many bytes with no Content-Length
        self.release = threading.Event()
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                endpoint.requests.append(
                    Seen("POST", self.path, {k.lower(): v for k, v in self.headers.items()}, self.rfile.read(length))
                )
                if endpoint.hang:
                    endpoint.release.wait(10)
                    return
                try:
                    self.send_response(endpoint.status)
                    for name, value in endpoint.headers.items():
                        self.send_header(name, value)
                    if endpoint.stream_bytes:
                        self.end_headers()
                        chunk = b"x" * 65536
                        for _ in range(endpoint.stream_bytes // len(chunk)):
                            self.wfile.write(chunk)
                        return
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(endpoint.body)))
                    self.end_headers()
                    self.wfile.write(endpoint.body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client stopped reading, as it should past its limit

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.02,), daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/context"

    def reply(self, body: Any = None, *, status: int = 200, raw: bytes | None = None) -> None:
        self.status = status
        self.body = raw if raw is not None else json.dumps({} if body is None else body).encode()

    def __enter__(self) -> ContextEndpoint:
        self._thread.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.release.set()
        self._server.shutdown()
        self._server.server_close()
