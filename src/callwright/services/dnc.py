"""The do-not-call list: a listed number is never dialed."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from callwright.services.contacts import parse_number
from callwright.services.errors import NotFound
from callwright.store.db import Database
from callwright.store.tables import dnc_numbers
from callwright.store.types import utcnow

_LISTED = sa.select(dnc_numbers.c.phone_number).where(
    dnc_numbers.c.org_id == sa.bindparam("org_id"), dnc_numbers.c.phone_number == sa.bindparam("phone_number")
)


def is_listed(conn: Connection, org_id: uuid.UUID, e164: str) -> bool:
    return conn.execute(_LISTED, {"org_id": org_id, "phone_number": e164}).first() is not None


def list_on_request_sync(conn: Connection, org_id: uuid.UUID, e164: str, reason: str, at: datetime) -> None:
    """List a number because its owner asked; a number already listed keeps its entry and reason
    (someone put it there on purpose, and a repeat of this write must change nothing)."""
    insert = (sqlite.insert if conn.dialect.name == "sqlite" else postgresql.insert)(dnc_numbers)
    conn.execute(
        insert.values(org_id=org_id, phone_number=e164, reason=reason, created_at=at).on_conflict_do_nothing(
            index_elements=["org_id", "phone_number"]
        )
    )


def _out(row: Any) -> dict[str, Any]:
    return {"phone_number": row.phone_number, "reason": row.reason, "created_at": row.created_at}


async def add(db: Database, org_id: uuid.UUID, raw: str, reason: str | None, region: str) -> dict[str, Any]:
    e164 = parse_number(raw, None, ["body", "phone_number"], region)
    async with db.tx() as conn:
        existing = (
            await conn.execute(
                sa.select(dnc_numbers).where(dnc_numbers.c.org_id == org_id, dnc_numbers.c.phone_number == e164)
            )
        ).first()
        if existing is not None:
            if reason is not None:
                await conn.execute(
                    dnc_numbers.update()
                    .where(dnc_numbers.c.org_id == org_id, dnc_numbers.c.phone_number == e164)
                    .values(reason=reason)
                )
            return {**_out(existing), "reason": reason if reason is not None else existing.reason}
        now = utcnow()
        await conn.execute(dnc_numbers.insert().values(org_id=org_id, phone_number=e164, reason=reason, created_at=now))
    return {"phone_number": e164, "reason": reason, "created_at": now}


async def remove(db: Database, org_id: uuid.UUID, raw: str, region: str) -> None:
    e164 = parse_number(raw, None, ["path", "phone_number"], region)
    async with db.tx() as conn:
        result = await conn.execute(
            dnc_numbers.delete().where(dnc_numbers.c.org_id == org_id, dnc_numbers.c.phone_number == e164)
        )
    if result.rowcount == 0:
        raise NotFound("number is not on the do-not-call list")


async def list_numbers(db: Database, org_id: uuid.UUID, limit: int, offset_number: str | None) -> list[dict[str, Any]]:
    q = sa.select(dnc_numbers).where(dnc_numbers.c.org_id == org_id)
    if offset_number:
        q = q.where(dnc_numbers.c.phone_number > offset_number)
    q = q.order_by(dnc_numbers.c.phone_number).limit(limit)
    async with db.read() as conn:
        return [_out(r) for r in (await conn.execute(q)).all()]
