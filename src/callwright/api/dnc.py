"""The do-not-call list."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from pydantic import Field

from callwright.api.deps import Org, Svc
from callwright.domain.common import Strict
from callwright.services import dnc as service

router = APIRouter(prefix="/v1/dnc", tags=["do-not-call"])


class DncIn(Strict):
    phone_number: str = Field(min_length=1, max_length=100)
    reason: str | None = Field(default=None, max_length=500)


@router.get("")
async def list_dnc(
    org: Org, svc: Svc,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[str | None, Query(max_length=40, description="Last phone number of the previous page.")] = None,
) -> dict[str, Any]:
    data = await service.list_numbers(svc.db, org.org_id, limit, cursor)
    nxt = data[-1]["phone_number"] if len(data) == limit else None
    return {"data": data, "next_cursor": nxt}


@router.post("", status_code=201)
async def add_dnc(body: DncIn, org: Org, svc: Svc) -> dict[str, Any]:
    return await service.add(svc.db, org.org_id, body.phone_number, body.reason, svc.settings.default_country)


@router.delete("/{phone_number}", status_code=204)
async def remove_dnc(phone_number: str, org: Org, svc: Svc) -> Response:
    await service.remove(svc.db, org.org_id, phone_number, svc.settings.default_country)
    return Response(status_code=204)
