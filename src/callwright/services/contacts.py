"""Contacts, keyed by E.164 number within an organization."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Row
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from callwright.domain.contact import ContactCreate, ContactIn, ContactOut, ContactUpdate
from callwright.domain.phones import PHONE_NUMBER_ERROR, PhoneNumberError, timezone_for, to_e164
from callwright.services.errors import Conflict, InvalidInput, NotFound
from callwright.services.pagination import MAX_LIMIT, encode_cursor, newest_first
from callwright.store.db import Database
from callwright.store.tables import calls, contacts
from callwright.store.types import utcnow

_PROFILE = ("first_name", "last_name", "email", "external_id", "timezone")


def contact_out(row: ContactRow) -> ContactOut:
    return ContactOut(
        id=str(row.id), phone_number=row.phone_number, first_name=row.first_name, last_name=row.last_name,
        email=row.email, external_id=row.external_id, timezone=row.timezone, attributes=row.attributes or {},
        created_at=row.created_at, updated_at=row.updated_at,
    )


def parse_number(raw: str, country: str | None, loc: list[str | int], default_region: str | None = None) -> str:
    try:
        return to_e164(raw, country, default_region)
    except PhoneNumberError as exc:
        raise InvalidInput(loc, str(exc), PHONE_NUMBER_ERROR) from exc


@dataclass(frozen=True, slots=True)
class ContactRecord:
    """A contact row just inserted, built from the inserted values (no read-back)."""

    id: uuid.UUID
    org_id: uuid.UUID
    phone_number: str
    first_name: str | None
    last_name: str | None
    email: str | None
    external_id: str | None
    timezone: str | None
    attributes: dict[str, Any]
    created_at: datetime
    updated_at: datetime


ContactRow = Row[Any] | ContactRecord

# Built once: a prebuilt statement keeps its cache key, so SQLAlchemy skips rebuilding it per call.
_BY_PHONE = sa.select(contacts).where(
    contacts.c.org_id == sa.bindparam("org_id"), contacts.c.phone_number == sa.bindparam("phone_number")
)
_INSERT = contacts.insert()


_BY_ID = sa.select(contacts).where(contacts.c.org_id == sa.bindparam("org_id"), contacts.c.id == sa.bindparam("id"))


async def by_phone(conn: AsyncConnection, org_id: uuid.UUID, e164: str) -> Row[Any] | None:
    return (await conn.execute(_BY_PHONE, {"org_id": org_id, "phone_number": e164})).first()


async def by_id(conn: AsyncConnection, org_id: uuid.UUID, contact_id: uuid.UUID) -> Row[Any] | None:
    return await conn.run_sync(by_id_sync, org_id, contact_id)


def by_id_sync(conn: Connection, org_id: uuid.UUID, contact_id: uuid.UUID) -> Row[Any] | None:
    return conn.execute(_BY_ID, {"org_id": org_id, "id": contact_id}).first()


def by_external_id_sync(conn: Connection, org_id: uuid.UUID, external_id: str) -> Row[Any] | None:
    q = sa.select(contacts).where(contacts.c.org_id == org_id, contacts.c.external_id == external_id).limit(1)
    return conn.execute(q).first()


async def upsert(
    conn: AsyncConnection, org_id: uuid.UUID, e164: str, profile: ContactIn | None, update_existing: bool
) -> ContactRow:
    """Find the contact for ``e164``, creating it on first call; ``update_existing`` refreshes
    its profile from ``profile`` (only the fields given)."""
    return await conn.run_sync(upsert_sync, org_id, e164, profile, update_existing)


def upsert_sync(
    conn: Connection, org_id: uuid.UUID, e164: str, profile: ContactIn | None, update_existing: bool
) -> ContactRow:
    """``upsert`` on a synchronous connection (``Database.run_tx``)."""
    existing = conn.execute(_BY_PHONE, {"org_id": org_id, "phone_number": e164}).first()
    fields = profile.model_dump(exclude_unset=True, exclude={"phone_number"}) if profile else {}
    now = utcnow()
    if existing is not None:
        if update_existing and fields:
            values: dict[str, Any] = {k: v for k, v in fields.items() if k in _PROFILE}
            if "attributes" in fields:
                values["attributes"] = {**(existing.attributes or {}), **fields["attributes"]}
            values["updated_at"] = now
            conn.execute(contacts.update().where(contacts.c.id == existing.id).values(**values))
            refreshed = by_id_sync(conn, org_id, existing.id)
            assert refreshed is not None
            return refreshed
        return existing
    record = ContactRecord(
        id=uuid.uuid4(), org_id=org_id, phone_number=e164,
        first_name=fields.get("first_name"), last_name=fields.get("last_name"), email=fields.get("email"),
        external_id=fields.get("external_id"), timezone=fields.get("timezone") or timezone_for(e164),
        attributes=fields.get("attributes") or {}, created_at=now, updated_at=now,
    )
    conn.execute(_INSERT, {name: getattr(record, name) for name in ContactRecord.__slots__})
    return record


async def create_contact(db: Database, org_id: uuid.UUID, body: ContactCreate, default_region: str) -> ContactOut:
    e164 = parse_number(body.phone_number, body.country_code, ["body", "phone_number"], default_region)
    profile = ContactIn.model_validate(body.model_dump(exclude={"country_code"}, exclude_unset=True))
    async with db.tx() as conn:
        if await by_phone(conn, org_id, e164) is not None:
            raise Conflict(f"a contact with phone number {e164} already exists")
        try:
            row = await upsert(conn, org_id, e164, profile, update_existing=False)
        except IntegrityError as exc:
            raise Conflict(f"a contact with phone number {e164} already exists") from exc
    return contact_out(row)


async def get_contact(db: Database, org_id: uuid.UUID, contact_id: uuid.UUID) -> ContactOut:
    async with db.read() as conn:
        row = await by_id(conn, org_id, contact_id)
    if row is None:
        raise NotFound("contact not found")
    return contact_out(row)


async def list_contacts(
    db: Database, org_id: uuid.UUID, limit: int, cursor: str | None, phone_number: str | None,
    default_region: str,
) -> tuple[list[ContactOut], str | None]:
    limit = min(max(limit, 1), MAX_LIMIT)
    conds = [contacts.c.org_id == org_id, *newest_first(contacts, cursor)]
    if phone_number:
        conds.append(
            contacts.c.phone_number == parse_number(phone_number, None, ["query", "phone_number"], default_region)
        )
    q = sa.select(contacts).where(*conds).order_by(contacts.c.created_at.desc(), contacts.c.id.desc())
    async with db.read() as conn:
        rows = (await conn.execute(q.limit(limit + 1))).all()
    nxt = encode_cursor(rows[limit - 1].created_at, rows[limit - 1].id) if len(rows) > limit else None
    return [contact_out(r) for r in rows[:limit]], nxt


async def update_contact(
    db: Database, org_id: uuid.UUID, contact_id: uuid.UUID, body: ContactUpdate, default_region: str
) -> ContactOut:
    changes = body.model_dump(exclude_unset=True)
    country = changes.pop("country_code", None)
    async with db.tx() as conn:
        row = await by_id(conn, org_id, contact_id)
        if row is None:
            raise NotFound("contact not found")
        if "phone_number" in changes:
            if changes["phone_number"] is None:
                raise InvalidInput(["body", "phone_number"], "phone_number cannot be null")
            e164 = parse_number(changes["phone_number"], country, ["body", "phone_number"], default_region)
            other = await by_phone(conn, org_id, e164)
            if other is not None and other.id != row.id:
                raise Conflict(f"another contact already has phone number {e164}")
            changes["phone_number"] = e164
            if "timezone" not in changes and row.phone_number != e164:
                changes["timezone"] = timezone_for(e164)
        if changes.get("attributes") is None:
            changes.pop("attributes", None)
        changes["updated_at"] = utcnow()
        await conn.execute(contacts.update().where(contacts.c.id == row.id).values(**changes))
        updated = await by_id(conn, org_id, contact_id)
    assert updated is not None
    return contact_out(updated)


async def delete_contact(db: Database, org_id: uuid.UUID, contact_id: uuid.UUID) -> None:
    async with db.tx() as conn:
        if await by_id(conn, org_id, contact_id) is None:
            raise NotFound("contact not found")
        # Calls keep their own copy of the number; unlink rather than lose the history.
        await conn.execute(
            calls.update().where(calls.c.org_id == org_id, calls.c.contact_id == contact_id).values(contact_id=None)
        )
        await conn.execute(contacts.delete().where(contacts.c.id == contact_id, contacts.c.org_id == org_id))
