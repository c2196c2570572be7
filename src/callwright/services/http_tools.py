"""Custom HTTP tools (API.md "Agents": ``tools``): the request to the customer's API that a model's
tool call turns into, and its answer turned into something the model can read.

The endpoint is customer code, so whatever it does (hang, refuse, 500, junk, 50 MB) comes back
as a ``ToolOutcome`` with ``ok=False`` and a short reason the model can act on; the call goes on.
Requests go through the SSRF-safe client, so a private address is refused here too (not only
when the agent is saved), and credentials are decrypted only for the request.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

from callwright.dialogue.tools import MAX_RESULT_CHARS, ToolCaller, ToolOutcome
from callwright.domain.agent import HttpTool
from callwright.net import (
    FetchError,
    FetchTimeout,
    InvalidHeader,
    Limits,
    Response,
    ResponseTooLarge,
    SafeHttpClient,
    UrlRefused,
)
from callwright.services.customer_auth import auth_headers
from callwright.services.secrets import SecretBox, SecretError

log = logging.getLogger("callwright.http_tools")

MAX_TOOL_RESPONSE_BYTES = 256 * 1024
CONNECT_TIMEOUT_S = 5.0
ERROR_BODY_CHARS = 300
"""How much of a failed response's body the model is shown (enough for the API's own message)."""

_QUERY_METHODS = frozenset({"GET", "DELETE"})


class _Failed(Exception):
    """Why a tool call failed, in words for the model."""

    def __init__(self, reason: str, kind: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.kind = kind


def _query_value(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool) or value is None or isinstance(value, list | dict):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))  # true, not True
    return str(value)


def with_query(url: str, arguments: Mapping[str, Any]) -> str:
    """``url`` with the arguments appended to its query string: strings as they are, numbers
    and booleans as JSON spells them, nested values as compact JSON text; null ones left out."""
    pairs = [(str(name), _query_value(value)) for name, value in arguments.items() if value is not None]
    if not pairs:
        return url
    parts = urlsplit(url)
    query = "&".join(q for q in (parts.query, urlencode(pairs)) if q)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, ""))


def _headers(tool: HttpTool, box: SecretBox, has_body: bool) -> dict[str, str]:
    """Defaults, then the tool's own headers, then its credentials; later ones win, whatever
    their case. Content-Type only with a body: some frameworks reject an empty JSON body."""
    merged: dict[str, tuple[str, str]] = {}
    defaults = {"Accept": "application/json"}
    if has_body:
        defaults["Content-Type"] = "application/json"
    for layer in (defaults, tool.headers, auth_headers(tool.auth, box)):
        for name, value in layer.items():
            merged[name.lower()] = (name, value)
    return dict(merged.values())


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value")


def _is_json_type(content_type: str | None) -> bool:
    media = (content_type or "").split(";", 1)[0].strip().lower()
    return media == "application/json" or media.endswith("+json")


def _result(response: Response) -> Any:
    """The model's view of a 2xx body: parsed JSON, else the text (cut), else why it is unusable."""
    if not response.body.strip():
        return {"ok": True}
    content_type = response.header("content-type")
    try:
        return json.loads(response.body, parse_constant=_no_constants)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        if _is_json_type(content_type):
            detail = f"{exc.msg} at line {exc.lineno}" if isinstance(exc, json.JSONDecodeError) else str(exc)
            raise _Failed(f"the tool's response is not valid JSON ({detail})", "bad_body") from None
    try:
        text = response.body.decode("utf-8")
    except UnicodeDecodeError:
        raise _Failed(
            f"the tool answered with {len(response.body)} bytes of binary data ({content_type or 'no content type'}), "
            "not text", "bad_body",
        ) from None
    return text[:MAX_RESULT_CHARS]


def _http_error(response: Response) -> str:
    note = " (redirects are not followed)" if 300 <= response.status_code < 400 else ""
    excerpt = response.body.decode("utf-8", "replace").strip()[:ERROR_BODY_CHARS]
    return f"the tool answered HTTP {response.status_code}{note}" + (f": {excerpt}" if excerpt else "")


def _fetch_error(exc: FetchError, tool: HttpTool) -> str:
    if isinstance(exc, UrlRefused):
        return f"the tool's URL was refused: {exc.message}"
    if isinstance(exc, FetchTimeout):
        if exc.kind == "connect_timeout":
            return f"could not connect to the tool within {min(CONNECT_TIMEOUT_S, tool.timeout_s):g} s"
        return f"the tool did not answer within {tool.timeout_s:g} s"
    if isinstance(exc, ResponseTooLarge):
        return f"the tool's response is larger than {MAX_TOOL_RESPONSE_BYTES // 1024} KiB"
    if isinstance(exc, InvalidHeader):
        return f"the tool's request could not be sent: {exc.message}"
    return exc.message


class HttpToolRunner(ToolCaller):
    """Calls an agent's HTTP tools for a dialogue engine; one per process, sharing the client."""

    def __init__(self, client: SafeHttpClient, box: SecretBox) -> None:
        self._client = client
        self._box = box

    async def call(self, tool: HttpTool, arguments: dict[str, Any]) -> ToolOutcome:
        """One request for one tool call, bounded by ``tool.timeout_s`` and
        ``MAX_TOOL_RESPONSE_BYTES``. Never raises, except to pass on a cancellation (the caller
        interrupted the agent, or the call ended)."""
        started = time.perf_counter()
        status: int | None = None
        try:
            response = await self._request(tool, arguments)
            status = response.status_code
            if not response.is_success:
                raise _Failed(_http_error(response), "http_status")
            outcome = ToolOutcome(True, _result(response), status)
            kind = "ok"
        except _Failed as failed:
            outcome, kind = ToolOutcome(False, failed.reason, status), failed.kind
        except Exception as exc:  # a bug here must not cost the caller their call
            log.exception("tool %s failed unexpectedly", tool.name)
            outcome = ToolOutcome(False, f"internal error while calling the tool ({type(exc).__name__})", status)
            kind = "internal_error"
        elapsed_ms = round((time.perf_counter() - started) * 1000, 1)
        log.info(  # never the URL (it may carry a key), the arguments or the credentials
            "tool %s: %s %s in %.0f ms", tool.name, tool.method, status if status is not None else kind, elapsed_ms,
            extra={"fields": {"tool": tool.name, "status_code": status, "outcome": kind, "duration_ms": elapsed_ms}},
        )
        return outcome

    async def _request(self, tool: HttpTool, arguments: dict[str, Any]) -> Response:
        url = str(tool.url)
        body: bytes | None = None
        if tool.method in _QUERY_METHODS:
            url = with_query(url, arguments)
        else:
            try:
                body = json.dumps(arguments, ensure_ascii=False, allow_nan=False).encode()
            except (TypeError, ValueError) as exc:
                raise _Failed(f"the arguments cannot be sent as JSON ({exc})", "bad_arguments") from None
        try:
            headers = _headers(tool, self._box, body is not None)
        except SecretError:
            raise _Failed(
                "the tool's stored credentials cannot be decrypted with this server's secret key", "bad_secret"
            ) from None
        limits = Limits(
            connect_timeout_s=min(CONNECT_TIMEOUT_S, tool.timeout_s),
            total_timeout_s=tool.timeout_s,
            max_response_bytes=MAX_TOOL_RESPONSE_BYTES,
        )
        try:
            return await self._client.request(tool.method, url, headers=headers, body=body, limits=limits)
        except FetchError as exc:
            raise _Failed(_fetch_error(exc, tool), exc.kind) from None
