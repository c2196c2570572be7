"""Map service errors and stray exceptions to the documented error shapes."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from callwright.services.errors import InvalidInput, ServiceError

log = logging.getLogger("callwright.api")


class ErrorBody(BaseModel):
    detail: str


DOCUMENTED_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorBody, "description": "Missing, unknown or revoked API key"},
    404: {"model": ErrorBody, "description": "Not found in the caller's organization"},
    409: {"model": ErrorBody, "description": "Conflict (do-not-call list, reused Idempotency-Key, state)"},
}


def install(app: FastAPI) -> None:
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
