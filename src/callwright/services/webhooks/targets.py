"""Webhook targets of an agent: created with a secret shown once, masked on every read."""

from __future__ import annotations

import base64
import secrets as token
import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Row

from callwright.domain.webhook import WebhookTargetIn, WebhookTargetOut, WebhookTargetUpdate
from callwright.services.errors import NotFound
from callwright.services.secrets import SecretBox, mask
from callwright.services.url_check import check_customer_url
from callwright.store.db import Database
from callwright.store.tables import agents, webhook_deliveries, webhook_targets
from callwright.store.types import utcnow


def new_secret() -> str:
    return "whsec_" + base64.b64encode(token.token_bytes(24)).decode()


def target_out(row: Row[Any], box: SecretBox, *, reveal: bool = False) -> WebhookTargetOut:
    plain = box.decrypt(row.secret)
    return WebhookTargetOut(
        id=str(row.id), agent_id=str(row.agent_id), url=row.url, events=list(row.events),
        include_transcript=row.include_transcript, include_recording=row.include_recording,
        secret=plain if reveal else mask(plain), enabled=row.enabled, disabled_reason=row.disabled_reason,
        created_at=row.created_at, updated_at=row.updated_at,
    )


async def _agent_exists(db: Database, org_id: uuid.UUID, agent_id: uuid.UUID) -> None:
    async with db.read() as conn:
        found = (
            await conn.execute(sa.select(agents.c.id).where(agents.c.id == agent_id, agents.c.org_id == org_id))
        ).first()
    if found is None:
        raise NotFound("agent not found")


async def create_target(
    db: Database, box: SecretBox, org_id: uuid.UUID, agent_id: uuid.UUID, body: WebhookTargetIn, allow_private: bool
) -> WebhookTargetOut:
    await _agent_exists(db, org_id, agent_id)
    await check_customer_url(body.url, allow_private=allow_private, loc=["body", "url"])
    now = utcnow()
    target_id = uuid.uuid4()
    secret = body.secret or new_secret()
    async with db.tx() as conn:
        await conn.execute(
            webhook_targets.insert().values(
                id=target_id, org_id=org_id, agent_id=agent_id, url=body.url, events=list(dict.fromkeys(body.events)),
                include_transcript=body.include_transcript, include_recording=body.include_recording,
                secret=box.encrypt(secret), enabled=True, disabled_reason=None, created_at=now, updated_at=now,
            )
        )
        row = (await conn.execute(sa.select(webhook_targets).where(webhook_targets.c.id == target_id))).one()
    return target_out(row, box, reveal=True)


async def _target_row(db: Database, org_id: uuid.UUID, agent_id: uuid.UUID, target_id: uuid.UUID) -> Row[Any]:
    async with db.read() as conn:
        row = (
            await conn.execute(
                sa.select(webhook_targets).where(
                    webhook_targets.c.id == target_id,
                    webhook_targets.c.agent_id == agent_id,
                    webhook_targets.c.org_id == org_id,
                )
            )
        ).first()
    if row is None:
        raise NotFound("webhook target not found")
    return row


async def list_targets(db: Database, box: SecretBox, org_id: uuid.UUID, agent_id: uuid.UUID) -> list[WebhookTargetOut]:
    await _agent_exists(db, org_id, agent_id)
    async with db.read() as conn:
        rows = (
            await conn.execute(
                sa.select(webhook_targets)
                .where(webhook_targets.c.agent_id == agent_id, webhook_targets.c.org_id == org_id)
                .order_by(webhook_targets.c.created_at, webhook_targets.c.id)
            )
        ).all()
    return [target_out(r, box) for r in rows]


async def update_target(
    db: Database, box: SecretBox, org_id: uuid.UUID, agent_id: uuid.UUID, target_id: uuid.UUID,
    body: WebhookTargetUpdate, allow_private: bool,
) -> WebhookTargetOut:
    await _target_row(db, org_id, agent_id, target_id)
    changes: dict[str, Any] = body.model_dump(exclude_unset=True, exclude_none=True)
    if "url" in changes:
        await check_customer_url(changes["url"], allow_private=allow_private, loc=["body", "url"])
    if "events" in changes:
        changes["events"] = list(dict.fromkeys(changes["events"]))
    rotated = "secret" in changes
    if rotated:
        changes["secret"] = box.encrypt(changes["secret"])
    if changes.get("enabled") is True:
        changes["disabled_reason"] = None
    async with db.tx() as conn:
        await conn.execute(
            webhook_targets.update().where(webhook_targets.c.id == target_id).values(**changes, updated_at=utcnow())
        )
        row = (await conn.execute(sa.select(webhook_targets).where(webhook_targets.c.id == target_id))).one()
    return target_out(row, box, reveal=rotated)


async def delete_target(db: Database, org_id: uuid.UUID, agent_id: uuid.UUID, target_id: uuid.UUID) -> None:
    """Deleting a target cancels its pending deliveries; the delivery log keeps their history."""
    await _target_row(db, org_id, agent_id, target_id)
    async with db.tx() as conn:
        await conn.execute(
            webhook_deliveries.update()
            .where(webhook_deliveries.c.target_id == target_id, webhook_deliveries.c.status == "pending")
            .values(status="canceled", last_error="the webhook target was deleted", updated_at=utcnow())
        )
        await conn.execute(webhook_targets.delete().where(webhook_targets.c.id == target_id))
