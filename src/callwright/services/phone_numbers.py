"""Phone numbers mapped to agents: an inbound call to a mapped number is answered by its agent.

A number belongs to one organization at a time (the carrier delivers its calls to one place).
"""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Row

from callwright.services import agents as agent_service
from callwright.services.contacts import parse_number
from callwright.services.errors import Conflict, NotFound
from callwright.store.db import Database
from callwright.store.tables import phone_numbers
from callwright.store.types import utcnow


def _out(row: Any) -> dict[str, Any]:
    return {
        "id": row.id, "phone_number": row.phone_number, "agent_id": row.agent_id,
        "provider": row.provider, "created_at": row.created_at,
    }


async def add(
    db: Database, org_id: uuid.UUID, raw: str, agent_id: uuid.UUID, provider: str, region: str
) -> dict[str, Any]:
    """Map ``raw`` to the agent; 404 for an agent not in this organization, 409 for a number
    already mapped (by any organization: remove it first)."""
    e164 = parse_number(raw, None, ["body", "phone_number"], region)
    if await agent_service.current_version(db, org_id, agent_id) is None:
        raise NotFound(f"no active agent with id {agent_id}")
    values = dict(id=uuid.uuid4(), org_id=org_id, phone_number=e164, agent_id=agent_id, provider=provider,
                  created_at=utcnow())
    async with db.tx() as conn:
        taken = (
            await conn.execute(sa.select(phone_numbers.c.id).where(phone_numbers.c.phone_number == e164))
        ).first()
        if taken is not None:
            raise Conflict(f"{e164} is already mapped to an agent; delete the mapping first")
        await conn.execute(phone_numbers.insert().values(**values))
    return _out(type("R", (), values))


async def list_numbers(db: Database, org_id: uuid.UUID) -> list[dict[str, Any]]:
    async with db.read() as conn:
        rows = (
            await conn.execute(
                sa.select(phone_numbers).where(phone_numbers.c.org_id == org_id).order_by(phone_numbers.c.phone_number)
            )
        ).all()
    return [_out(r) for r in rows]


async def remove(db: Database, org_id: uuid.UUID, raw: str, region: str) -> None:
    e164 = parse_number(raw, None, ["path", "phone_number"], region)
    async with db.tx() as conn:
        deleted = await conn.execute(
            phone_numbers.delete().where(phone_numbers.c.org_id == org_id, phone_numbers.c.phone_number == e164)
        )
    if deleted.rowcount == 0:
        raise NotFound(f"{e164} is not mapped")


async def lookup(db: Database, e164: str) -> Row[Any] | None:
    """The mapping of a called number, whichever organization owns it."""
    async with db.read() as conn:
        return (await conn.execute(sa.select(phone_numbers).where(phone_numbers.c.phone_number == e164))).first()
