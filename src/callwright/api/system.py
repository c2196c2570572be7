"""Health and metrics."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from callwright.api.deps import Svc

router = APIRouter(tags=["system"])


@router.get("/healthz")
async def healthz(svc: Svc) -> dict[str, Any]:
    async with svc.db.read() as conn:
        await conn.execute(sa.text("SELECT 1"))
    return {"status": "ok"}


@router.get("/metrics", response_class=Response, responses={200: {"content": {"text/plain": {}}}})
async def metrics() -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
