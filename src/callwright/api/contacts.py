"""Contacts: the people agents call."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response

from callwright.api.deps import Org, Svc
from callwright.api.params import Cursor, Limit
from callwright.domain.common import Out
from callwright.domain.contact import ContactCreate, ContactOut, ContactUpdate
from callwright.domain.phones import PhoneText
from callwright.services import contacts as service

router = APIRouter(prefix="/v1/contacts", tags=["contacts"])


class ContactPage(Out):
    data: list[ContactOut]
    next_cursor: str | None


@router.post("", status_code=201, response_model=ContactOut)
async def create_contact(body: ContactCreate, org: Org, svc: Svc) -> ContactOut:
    return await service.create_contact(svc.db, org.org_id, body, svc.settings.default_country)


@router.get("", response_model=ContactPage)
async def list_contacts(
    org: Org, svc: Svc,
    phone_number: Annotated[PhoneText | None, Query(description="The contact with this number, in any format.")] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> ContactPage:
    data, nxt = await service.list_contacts(
        svc.db, org.org_id, limit, cursor, phone_number, svc.settings.default_country
    )
    return ContactPage(data=data, next_cursor=nxt)


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
