"""The do-not-call list."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response
from pydantic import Field

from callwright.api.deps import Org, Svc
from callwright.api.params import Limit
from callwright.domain.common import Out, Strict, UtcDatetime
from callwright.domain.phones import PhoneText
from callwright.services import dnc as service

router = APIRouter(prefix="/v1/dnc", tags=["do-not-call"])


class DncIn(Strict):
    phone_number: PhoneText = Field(description="Any format; national numbers are read in the server's region.")
    reason: str | None = Field(default=None, max_length=500)


class DncEntry(Out):
    phone_number: str = Field(description="E.164.")
    reason: str | None
    created_at: UtcDatetime


class DncPage(Out):
    data: list[DncEntry]
    next_cursor: str | None


@router.get("", response_model=DncPage)
async def list_dnc(
    org: Org, svc: Svc,
    limit: Limit = 50,
    cursor: Annotated[str | None, Query(max_length=40, description="Last phone number of the previous page.")] = None,
) -> DncPage:
    data = await service.list_numbers(svc.db, org.org_id, limit, cursor)
    nxt = data[-1]["phone_number"] if len(data) == limit else None
    return DncPage(data=[DncEntry(**d) for d in data], next_cursor=nxt)


@router.post("", status_code=201, response_model=DncEntry)
async def add_dnc(body: DncIn, org: Org, svc: Svc) -> DncEntry:
    return DncEntry(
        **await service.add(svc.db, org.org_id, body.phone_number, body.reason, svc.settings.default_country)
    )


@router.delete("/{phone_number}", status_code=204)
async def remove_dnc(
    phone_number: Annotated[PhoneText, Path(description="The listed number, in any format.")], org: Org, svc: Svc
) -> Response:
    await service.remove(svc.db, org.org_id, phone_number, svc.settings.default_country)
    return Response(status_code=204)
