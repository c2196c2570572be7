"""The delivery log and the manual retry."""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa

from callwright.domain.webhook import DeliveryAttempt, WebhookDeliveryOut, WebhookDeliveryPage
from callwright.services.errors import Conflict, NotFound
from callwright.services.pagination import MAX_LIMIT, encode_cursor, newest_first
from callwright.store.db import Database
from callwright.store.tables import webhook_deliveries, webhook_targets
from callwright.store.types import utcnow


def delivery_out(row: Any) -> WebhookDeliveryOut:
    return WebhookDeliveryOut(
        id=str(row.id), webhook_id=str(row.event_id), target_id=str(row.target_id), event=row.event,
        call_id=None if row.call_id is None else str(row.call_id), url=row.url, status=row.status,
        attempts=row.attempts, next_attempt_at=row.next_attempt_at, last_status_code=row.last_status_code,
        last_error=row.last_error, attempt_log=[DeliveryAttempt(**a) for a in row.attempt_log or []],
        created_at=row.created_at, updated_at=row.updated_at, delivered_at=row.delivered_at,
    )


async def list_deliveries(
    db: Database,
    org_id: uuid.UUID,
    *,
    limit: int = 50,
    cursor: str | None = None,
    status: str | None = None,
    event: str | None = None,
    call_id: uuid.UUID | None = None,
    target_id: uuid.UUID | None = None,
) -> WebhookDeliveryPage:
    limit = max(1, min(limit, MAX_LIMIT))
    conditions = [webhook_deliveries.c.org_id == org_id, *newest_first(webhook_deliveries, cursor)]
    if status:
        conditions.append(webhook_deliveries.c.status == status)
    if event:
        conditions.append(webhook_deliveries.c.event == event)
    if call_id:
        conditions.append(webhook_deliveries.c.call_id == call_id)
    if target_id:
        conditions.append(webhook_deliveries.c.target_id == target_id)
    query = (
        sa.select(webhook_deliveries)
        .where(*conditions)
        .order_by(webhook_deliveries.c.created_at.desc(), webhook_deliveries.c.id.desc())
        .limit(limit + 1)
    )
    async with db.read() as conn:
        rows = (await conn.execute(query)).all()
    page = rows[:limit]
    nxt = encode_cursor(page[-1].created_at, page[-1].id) if len(rows) > limit else None
    return WebhookDeliveryPage(data=[delivery_out(r) for r in page], next_cursor=nxt)


async def get_delivery(db: Database, org_id: uuid.UUID, delivery_id: uuid.UUID) -> WebhookDeliveryOut:
    async with db.read() as conn:
        row = (
            await conn.execute(
                sa.select(webhook_deliveries).where(
                    webhook_deliveries.c.id == delivery_id, webhook_deliveries.c.org_id == org_id
                )
            )
        ).first()
    if row is None:
        raise NotFound("webhook delivery not found")
    return delivery_out(row)


async def retry_delivery(db: Database, org_id: uuid.UUID, delivery_id: uuid.UUID) -> WebhookDeliveryOut:
    """Send a delivery again now, with its original ``webhook-id`` and body."""
    async with db.tx() as conn:
        row = (
            await conn.execute(
                sa.select(webhook_deliveries.c.status, webhook_targets.c.enabled)
                .select_from(webhook_deliveries.outerjoin(
                    webhook_targets, webhook_targets.c.id == webhook_deliveries.c.target_id
                ))
                .where(webhook_deliveries.c.id == delivery_id, webhook_deliveries.c.org_id == org_id)
            )
        ).first()
        if row is None:
            raise NotFound("webhook delivery not found")
        if row.enabled is None:
            raise Conflict("the webhook target was deleted")
        if not row.enabled:
            raise Conflict("the webhook target is disabled; re-enable it (PATCH enabled=true) first")
        if row.status == "sending":
            raise Conflict("this delivery is being sent right now")
        await conn.execute(
            webhook_deliveries.update()
            .where(webhook_deliveries.c.id == delivery_id)
            .values(status="pending", next_attempt_at=utcnow(), claimed_until=None, updated_at=utcnow())
        )
    db.wakeups.notify()
    return await get_delivery(db, org_id, delivery_id)
