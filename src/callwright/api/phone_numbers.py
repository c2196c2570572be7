"""Phone numbers: which agent answers inbound calls to a number."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Response
from pydantic import Field

from callwright.api.deps import Org, Svc
from callwright.domain.common import JsonUuid, Out, Strict, UtcDatetime
from callwright.domain.phones import PhoneText
from callwright.services import phone_numbers as service

router = APIRouter(prefix="/v1/phone-numbers", tags=["phone numbers"])


class PhoneNumberIn(Strict):
    phone_number: PhoneText = Field(description="The carrier number callers dial; national numbers are read in the "
                                    "server's region.")
    agent_id: JsonUuid = Field(description="The agent that answers calls to this number.")
    provider: Literal["twilio"] = Field(default="twilio", description="The carrier the number lives on.")


class PhoneNumber(Out):
    id: uuid.UUID
    phone_number: str = Field(description="E.164.")
    agent_id: uuid.UUID
    provider: str
    created_at: UtcDatetime


class PhoneNumberList(Out):
    data: list[PhoneNumber]


@router.post("", status_code=201, response_model=PhoneNumber)
async def add_phone_number(body: PhoneNumberIn, org: Org, svc: Svc) -> PhoneNumber:
    return PhoneNumber(
        **await service.add(
            svc.db, org.org_id, body.phone_number, body.agent_id, body.provider, svc.settings.default_country
        )
    )


@router.get("", response_model=PhoneNumberList)
async def list_phone_numbers(org: Org, svc: Svc) -> PhoneNumberList:
    return PhoneNumberList(data=[PhoneNumber(**n) for n in await service.list_numbers(svc.db, org.org_id)])


@router.delete("/{phone_number}", status_code=204)
async def remove_phone_number(
    phone_number: Annotated[PhoneText, Path(description="The mapped number, in any format.")], org: Org, svc: Svc
) -> Response:
    await service.remove(svc.db, org.org_id, phone_number, svc.settings.default_country)
    return Response(status_code=204)
