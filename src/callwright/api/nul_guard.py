"""Refuse text holding the NUL character before any route sees it.

JSON allows ``"\\u0000"`` in a string and SQLite stores it, but PostgreSQL's text types cannot
hold it: without this guard the same request is a 201 on one back end and a 500 on the other.
One check at the edge covers every field, nested ones in ``metadata`` and ``variables`` too,
and the query string (a filter value). Bodies are scanned as bytes first; only a body that
shows the escape is parsed, so the hot path pays one ``bytes.find``.
"""

from __future__ import annotations

import json
import re
from typing import Any

from callwright.api.asgi import ASGIApp, Message, Receive, Scope, Send

NUL_CHARACTER = "nul_character"
"""The 422 ``type`` (one of the unstated rules: JSON Schema cannot forbid one character)."""

_ESCAPE = re.compile(rb"\\u0000", re.IGNORECASE)



def _holds_nul(value: Any, path: list[str | int]) -> list[str | int] | None:
    """Where in a decoded JSON value a string (or a key) holds NUL, or None."""
    if isinstance(value, str):
        return path if "\x00" in value else None
    if isinstance(value, dict):
        for key, item in value.items():
            if "\x00" in key:
                return [*path, key.replace("\x00", "\\u0000")]
            found = _holds_nul(item, [*path, key])
            if found is not None:
                return found
    if isinstance(value, list):
        for index, item in enumerate(value):
            found = _holds_nul(item, [*path, index])
            if found is not None:
                return found
    return None


def body_nul_location(body: bytes) -> list[str | int] | None:
    """The location (``["body", ...]``) of a NUL in a JSON body, or None (also for bad JSON,
    which the route refuses with its own words)."""
    if _ESCAPE.search(body) is None:
        return None
    try:
        decoded = json.loads(body)
    except ValueError:
        return None
    return _holds_nul(decoded, ["body"])


def _refusal(loc: list[str | int]) -> bytes:
    problem = {"loc": loc, "msg": "text may not contain the NUL character (\\u0000)", "type": NUL_CHARACTER}
    return json.dumps({"detail": [problem]}).encode()


class NulGuard:
    """Pure ASGI middleware: a 422 for NUL in a JSON or form body (the dashboard's forms) or in
    the query string."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if b"%00" in scope.get("query_string", b""):
            await self._refuse(send, ["query"])
            return
        headers = dict(scope.get("headers") or [])
        content_type = headers.get(b"content-type", b"")
        form = content_type.startswith(b"application/x-www-form-urlencoded")
        if b"json" not in content_type and not form:
            await self.app(scope, receive, send)
            return
        messages: list[Message] = []
        body = bytearray()
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                break
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        # The whole body is read, as the route would read it to parse it: no size lets a NUL by.
        where: list[str | int] | None
        where = (["body"] if b"%00" in body else None) if form else body_nul_location(bytes(body))
        if where is not None:
            await self._refuse(send, where)
            return

        async def replay() -> Message:
            return messages.pop(0) if messages else await receive()

        await self.app(scope, replay, send)

    @staticmethod
    async def _refuse(send: Send, loc: list[str | int]) -> None:
        content = _refusal(loc)
        await send({
            "type": "http.response.start",
            "status": 422,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(content)).encode())],
        })
        await send({"type": "http.response.body", "body": content})
