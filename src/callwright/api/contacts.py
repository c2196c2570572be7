"""Contacts: the people agents call."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response

from callwright.api.deps import Org, Svc
from callwright.domain.contact import ContactCreate, ContactOut, ContactUpdate
from callwright.services import contacts as service

router = APIRouter(prefix="/v1/contacts", tags=["contacts"])


@router.post("", status_code=201, response_model=ContactOut)
async def create_contact(body: ContactCreate, org: Org, svc: Svc) -> ContactOut:
    return await service.create_contact(svc.db, org.org_id, body, svc.settings.default_country)


@router.get("")
async def list_contacts(
    org: Org, svc: Svc,
    phone_number: Annotated[str | None, Query(max_length=100)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
) -> dict[str, Any]:
    data, nxt = await service.list_contacts(
        svc.db, org.org_id, limit, cursor, phone_number, svc.settings.default_country
    )
    return {"data": [c.model_dump(mode="json") for c in data], "next_cursor": nxt}


@router.get("/{contact_id}", response_model=ContactOut)
async def get_contact(contact_id: uuid.UUID, org: Org, svc: Svc) -> ContactOut:
    return await service.get_contact(svc.db, org.org_id, contact_id)


@router.patch("/{contact_id}", response_model=ContactOut)
async def update_contact(contact_id: uuid.UUID, body: ContactUpdate, org: Org, svc: Svc) -> ContactOut:
    return await service.update_contact(svc.db, org.org_id, contact_id, body, svc.settings.default_country)


@router.delete("/{contact_id}", status_code=204)
async def delete_contact(contact_id: uuid.UUID, org: Org, svc: Svc) -> Response:
    await service.delete_contact(svc.db, org.org_id, contact_id)
    return Response(status_code=204)
