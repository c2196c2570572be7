"""Map service errors and stray exceptions to the documented error shapes."""

from __future__ import annotations

import logging
import re
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel
from starlette.exceptions import HTTPException

from callwright.api.nul_guard import NUL_CHARACTER
from callwright.domain.agent import DUPLICATE_NAME, TEMPLATE_SYNTAX
from callwright.domain.common import EMAIL_ADDRESS, FIELD_CONFLICT, TIMESTAMP_RANGE
from callwright.domain.phones import PHONE_NUMBER_ERROR
from callwright.services.errors import InvalidInput, ServiceError

log = logging.getLogger("callwright.api")


class ErrorBody(BaseModel):
    detail: str


DOCUMENTED_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorBody, "description": "Missing, unknown or revoked API key"},
    404: {"model": ErrorBody, "description": "Not found in the caller's organization"},
    409: {"model": ErrorBody, "description": "Conflict (do-not-call list, reused Idempotency-Key, state)"},
}


UNSTATED_RULES: dict[str, str] = {
    PHONE_NUMBER_ERROR: "a phone number (`format: phone`) that has the allowed characters but cannot be dialed",
    TEMPLATE_SYNTAX: "a template (prompt, first message, voicemail message) that does not compile",
    "flow_reference": "a flow that names a node it does not have",
    "flow_branch": "a flow branch that is not a possible answer, or an ask that leaves answers without a branch",
    FIELD_CONFLICT: "a value given twice (a per-call field both at the top level and in `call`, a repeated "
    "parameter name)",
    "url_refused": "a URL this server will not fetch (a user name or password in it, a host that is not a valid "
    "name or that resolves to a private or reserved address)",
    TIMESTAMP_RANGE: "a time with a zone that puts it outside years 1 to 9999 in UTC",
    DUPLICATE_NAME: "two tools of one agent with the same name",
    EMAIL_ADDRESS: "an email address `format: email` allows but mail cannot reach (a reserved or special-use "
    "domain such as `.test` or `localhost`)",
    "invalid_header": "a tool header the HTTP client sets itself (`Host`, `Content-Length`, ...)",
    "window_order": "a campaign calling window whose `start` is not earlier than its `end`",
    "pause_too_long": "a `<pause ...>` in a simulated callee's line longer than 5000 ms",
    "value_error.csv_empty": "a campaign CSV with no rows",
    "value_error.csv_header": "a campaign CSV whose header cannot be read, or names a column twice",
    "value_error.csv_phone_column": "a campaign CSV without a phone column",
    "value_error.csv_encoding": "a campaign CSV that is not UTF-8",
    "value_error.csv_too_large": "a campaign CSV over the upload limit",
    NUL_CHARACTER: "text (anywhere in a JSON body, or in the query string) holding the NUL character U+0000, "
    "which the database cannot store",
}
"""The 422 ``type`` of each rule the server checks that JSON Schema cannot state: a request the
schema accepts can still be refused for these, and only for these (the contract test holds the
server to it). Every other rule is in the schema."""

VALIDATION_ERROR_DESCRIPTION = "Validation error: `detail` lists each problem with its `loc`. Besides the schema, " + (
    "the server checks these rules, reported with their `type`: "
    + "; ".join(f"`{kind}`: {text}" for kind, text in UNSTATED_RULES.items())
    + "."
)

UNREADABLE_BODY: dict[str, Any] = {
    "description": "The body could not be read (not UTF-8, or not the declared content type)",
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}},
}


_PARAMETER = re.compile(r"\\\{[^/]+?\\\}")
_HTTP_METHODS = frozenset({"GET", "PUT", "POST", "DELETE", "OPTIONS", "HEAD", "PATCH", "TRACE"})


def _method_table(app: FastAPI) -> list[tuple[re.Pattern[str], frozenset[str]]]:
    table: list[tuple[re.Pattern[str], frozenset[str]]] | None = getattr(app.state, "method_table", None)
    if table is None:
        table = [
            (
                re.compile("^" + _PARAMETER.sub("[^/]+", re.escape(path)) + "$"),
                frozenset(m.upper() for m in operations if m.upper() in _HTTP_METHODS),
            )
            for path, operations in app.openapi().get("paths", {}).items()
        ]
        app.state.method_table = table
    return table


def allowed_methods(app: FastAPI, path: str) -> list[str]:
    """Every method the document lists for the paths this one matches (the router names only one
    route's, but a path such as ``/v1/agents/{id}`` has one route per method)."""
    methods: set[str] = set()
    for pattern, path_methods in _method_table(app):
        if pattern.match(path):
            methods |= path_methods
    return sorted(methods)


def document_errors(app: FastAPI) -> None:
    """Complete the OpenAPI document with what every operation shares: a request body that cannot
    be read is a 400 (FastAPI answers it before any handler runs), and a 422 lists the rules that
    are not in the schema."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = build()
            for operations in schema.get("paths", {}).values():
                for operation in operations.values():
                    responses = operation["responses"]
                    if "requestBody" in operation:
                        responses.setdefault("400", UNREADABLE_BODY)
                    if "422" in responses:
                        responses["422"]["description"] = VALIDATION_ERROR_DESCRIPTION
        return app.openapi_schema or build()

    app.openapi = openapi  # type: ignore[method-assign]


def install(app: FastAPI) -> None:
    @app.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException) -> Response:
        methods = allowed_methods(request.app, request.url.path) if exc.status_code == 405 else []
        if methods:
            exc = HTTPException(405, exc.detail, headers={**(exc.headers or {}), "Allow": ", ".join(methods)})
        return await http_exception_handler(request, exc)

    @app.exception_handler(InvalidInput)
    async def _invalid(_: Request, exc: InvalidInput) -> JSONResponse:
        return JSONResponse({"detail": exc.as_detail()}, status_code=422)

    @app.exception_handler(ServiceError)
    async def _service(_: Request, exc: ServiceError) -> JSONResponse:
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return JSONResponse({"detail": "internal error; it has been logged"}, status_code=500)
