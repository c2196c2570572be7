"""From committed events to work: a delivery row per subscribed webhook target (its body built
once, so every retry sends the same bytes), and analysis for every call that ended. Call events
carry the call; campaign events (no call) carry the campaign.

Events are claimed with a lease, so two processes never fan out the same event at once, and
one that dies mid-way leaves the event to be claimed again; the unique (event, target) pair
makes the second attempt insert nothing twice.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from callwright.domain.agent import AgentSettings
from callwright.services.agents import version_by_id
from callwright.services.events import CALL_ENDED
from callwright.services.webhooks import envelope
from callwright.services.webhooks.links import FileLinks
from callwright.store.db import Database
from callwright.store.tables import calls, campaigns, events, webhook_deliveries, webhook_targets
from callwright.store.types import utcnow

log = logging.getLogger("callwright.webhooks")

LEASE_S = 10.0
"""A fan-out batch takes milliseconds; after a crash its claimed events wait this long for another run."""


class EventFanout:
    def __init__(
        self, db: Database, links: FileLinks, *, on_deliveries: Callable[[], None], on_analysis: Callable[[], None]
    ) -> None:
        self.db = db
        self.links = links
        self.on_deliveries = on_deliveries
        self.on_analysis = on_analysis
        self._versions: dict[uuid.UUID, AgentSettings] = {}

    async def run_once(self, limit: int = 500) -> int:
        """Fan out one batch of pending events; returns how many were processed.

        The database work runs through ``run_tx``/``run_read``: on a SQLite file that is the
        inline sqlite3 driver (tens of microseconds a statement instead of a millisecond)."""
        now = utcnow()
        pending = (
            sa.select(events.c.id)
            .where(
                events.c.processed_at.is_(None),
                sa.or_(events.c.claimed_until.is_(None), events.c.claimed_until < now),
            )
            .order_by(events.c.created_at)
            .limit(limit)
        )
        if not self.db.is_sqlite:
            pending = pending.with_for_update(skip_locked=True)
        claim = (
            events.update()
            .where(events.c.id.in_(pending.scalar_subquery()))
            .values(claimed_until=now + timedelta(seconds=LEASE_S))
            .returning(*events.c)
        )
        claimed = sorted(await self.db.run_tx(lambda conn: conn.execute(claim).all()), key=lambda e: e.created_at)
        if not claimed:
            return 0
        call_ids = list({e.call_id for e in claimed if e.call_id is not None})
        agent_ids = list({e.agent_id for e in claimed if e.agent_id is not None})
        campaign_ids = list({e.campaign_id for e in claimed if e.call_id is None and e.campaign_id is not None})

        def load(
            conn: Connection,
        ) -> tuple[dict[uuid.UUID, Any], dict[uuid.UUID, Any], list[Any], dict[uuid.UUID, Any]]:
            rows = {r.id: r for r in conn.execute(sa.select(calls).where(calls.c.id.in_(call_ids))).all()}
            campaign_rows = {}
            if campaign_ids:
                found = conn.execute(sa.select(campaigns).where(campaigns.c.id.in_(campaign_ids))).all()
                campaign_rows = {r.id: r for r in found}
            retry_rows = conn.execute(
                sa.select(calls.c.retry_of, calls.c.scheduled_for, calls.c.status).where(
                    calls.c.retry_of.in_(call_ids)
                )
            ).all()
            subscribed = conn.execute(
                sa.select(webhook_targets).where(
                    webhook_targets.c.agent_id.in_(agent_ids), webhook_targets.c.enabled.is_(True)
                )
            ).all()
            return rows, {r.retry_of: r for r in retry_rows}, list(subscribed), campaign_rows

        call_rows, retries, targets, campaign_rows = await self.db.run_read(load)
        by_agent: dict[uuid.UUID, list[Any]] = {}
        for t in targets:
            by_agent.setdefault(t.agent_id, []).append(t)
        deliveries: list[dict[str, Any]] = []
        ended: list[uuid.UUID] = []
        for event in claimed:
            call = call_rows.get(event.call_id) if event.call_id is not None else None
            if event.type == CALL_ENDED and call is not None:
                ended.append(call.id)
            subscribed = [t for t in by_agent.get(event.agent_id, []) if event.type in t.events]
            if not subscribed:
                continue
            if event.call_id is None:
                campaign = campaign_rows.get(event.campaign_id) if event.campaign_id is not None else None
                if campaign is not None:
                    deliveries.extend(self._campaign_delivery(event, campaign, t, now) for t in subscribed)
                continue
            if call is None:
                continue
            settings = await self._settings(call.org_id, call.agent_version_id)
            for target in subscribed:
                deliveries.append(self._delivery(event, call, settings, target, retries.get(call.id), now))
        insert = (sqlite.insert if self.db.is_sqlite else postgresql.insert)(webhook_deliveries)
        done = [e.id for e in claimed]

        def record(conn: Connection) -> None:
            if deliveries:
                conn.execute(insert.on_conflict_do_nothing(index_elements=["event_id", "target_id"]), deliveries)
            if ended:
                conn.execute(
                    calls.update()
                    .where(calls.c.id.in_(ended), calls.c.analysis_state.is_(None))
                    .values(analysis_state="pending")
                )
            conn.execute(events.update().where(events.c.id.in_(done)).values(processed_at=utcnow()))

        await self.db.run_tx(record)
        if deliveries:
            self.on_deliveries()
        if ended:
            self.on_analysis()
        return len(claimed)

    async def _settings(self, org_id: uuid.UUID, version_id: uuid.UUID) -> AgentSettings:
        """Agent versions never change, so each is read once per process (bounded)."""
        settings = self._versions.get(version_id)
        if settings is None:
            settings = (await version_by_id(self.db, org_id, version_id)).settings
            if len(self._versions) >= 1024:
                self._versions.clear()
            self._versions[version_id] = settings
        return settings

    def _delivery(
        self, event: Any, call: Any, settings: AgentSettings, target: Any, retry_call: Any, now: Any
    ) -> dict[str, Any]:
        will_retry = retry_call is not None and retry_call.status in ("scheduled", "queued")
        payload = envelope.build(
            event_type=event.type,
            event_id=event.id,
            event_at=event.created_at,
            call=call,
            settings=settings,
            include_transcript=target.include_transcript,
            include_recording=target.include_recording,
            attachments=envelope.Attachments(
                recording=self.links.url(call.id, "recording.wav") if call.recording_path else None,
                transcript=self.links.url(call.id, "transcript.json"),
                analysis=self.links.url(call.id, "analysis.json") if call.analysis is not None else None,
            ),
            retry=envelope.RetryState(
                attempt_number=call.attempt,
                max_attempts=settings.retry.max_attempts,
                will_retry=will_retry,
                next_retry_at=retry_call.scheduled_for if will_retry else None,
            ),
        )
        return _delivery_row(event, target, call.org_id, call.id, payload, now)

    @staticmethod
    def _campaign_delivery(event: Any, campaign: Any, target: Any, now: Any) -> dict[str, Any]:
        payload = envelope.build_campaign(
            event_type=event.type, event_id=event.id, event_at=event.created_at, event_data=dict(event.data or {}),
            campaign=campaign,
        )
        return _delivery_row(event, target, campaign.org_id, None, payload, now)


def _delivery_row(
    event: Any, target: Any, org_id: uuid.UUID, call_id: uuid.UUID | None, payload: str, now: Any
) -> dict[str, Any]:
    return {
        "id": uuid.uuid4(), "org_id": org_id, "event_id": event.id, "target_id": target.id,
        "event": event.type, "call_id": call_id, "url": target.url, "payload": payload, "status": "pending",
        "attempts": 0, "next_attempt_at": now, "claimed_until": None, "last_status_code": None,
        "last_error": None, "attempt_log": [], "created_at": now, "updated_at": now, "delivered_at": None,
    }
