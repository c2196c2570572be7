"""The event outbox: a row per thing that happened, written in the transaction that made it
happen. Webhook deliveries, analysis and (later) campaign progress are derived from committed
events by jobs, so an event that was committed is never lost and one that was not never
happened.

Types: ``call.queued``, ``call.dialing``, ``call.ringing`` (internal: no webhook), ``call.started``,
``call.ended``, ``call.failed`` (the call never connected), ``call.analyzed``; campaigns add
``campaign.started`` and ``campaign.completed``.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection

from callwright.store.tables import events
from callwright.store.types import utcnow

CALL_QUEUED = "call.queued"
CALL_STARTED = "call.started"
CALL_ENDED = "call.ended"
CALL_FAILED = "call.failed"
CALL_ANALYZED = "call.analyzed"
CAMPAIGN_STARTED = "campaign.started"
CAMPAIGN_COMPLETED = "campaign.completed"

PUBLIC_EVENTS: tuple[str, ...] = (
    CALL_STARTED, CALL_ENDED, CALL_FAILED, CALL_ANALYZED, CAMPAIGN_STARTED, CAMPAIGN_COMPLETED,
)
"""What a webhook target may subscribe to; these wait in the outbox to be fanned out. Other
events are internal: they are written already processed, as a log nothing derives from."""

_INSERT = events.insert()


def event_values(
    type_: str,
    org_id: uuid.UUID,
    *,
    call_id: uuid.UUID | None = None,
    agent_id: uuid.UUID | None = None,
    campaign_id: uuid.UUID | None = None,
    data: Mapping[str, Any] | None = None,
    at: datetime | None = None,
) -> dict[str, Any]:
    created = at or utcnow()
    return {
        "id": uuid.uuid4(), "org_id": org_id, "type": type_, "call_id": call_id, "agent_id": agent_id,
        "campaign_id": campaign_id, "data": dict(data or {}), "created_at": created,
        "processed_at": None if type_ in PUBLIC_EVENTS else created, "claimed_until": None,
    }


async def emit(conn: AsyncConnection, values: dict[str, Any] | list[dict[str, Any]]) -> None:
    """Write events inside the caller's open transaction."""
    if values:
        await conn.execute(_INSERT, values)


def emit_sync(conn: Connection, values: dict[str, Any] | list[dict[str, Any]]) -> None:
    """``emit`` for the synchronous transactions of ``Database.run_tx``."""
    if values:
        conn.execute(_INSERT, values)
