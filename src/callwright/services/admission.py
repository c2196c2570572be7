"""Admission control for campaigns: claims of free slots, never more than the limits allow.

Every pass, for each running campaign, one transaction claims as many due rows as the campaign
has free slots (``max_concurrency`` minus its rows being dialed) and the organization has room
(``max_live_per_org`` minus its live calls). On PostgreSQL the campaign row is locked ``FOR
UPDATE`` and rows are taken ``FOR UPDATE SKIP LOCKED``, so any number of dial processes can run
passes at once and the cap still holds; SQLite has one writer at a time, which does the same.

A claimed row is marked ``dialing`` with the id its call will have, in the claim's transaction;
the call is created after commit. A process that dies in between leaves a row whose call does
not exist: ``release_orphans`` gives it back (the attempt is not counted, because no call was
ever placed), so no row is lost and none is dialed twice.

A row outside its calling window, or at its per-day cap, is not dialed: its ``next_attempt_at``
moves to the next opening. A call that never hears back from its carrier holds its slot only
until ``carrier_timeout_s``, then ends as failed (``no_carrier_callback``), which frees it.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from pydantic import ValidationError
from sqlalchemy.engine import Connection, Row

from callwright.domain.campaign_schedule import CallingWindow, attempts_today, day_capped
from callwright.domain.contact import ContactIn
from callwright.services import call_state
from callwright.services.calls import CallService, NewCall
from callwright.services.campaigns import finish_if_done_sync
from callwright.services.errors import OnDoNotCallList, ServiceError
from callwright.services.live_calls import org_live_count
from callwright.store.db import Database
from callwright.store.tables import calls, campaign_contacts, campaigns
from callwright.store.types import utcnow

log = logging.getLogger("callwright.admission")

SIMULATED_CALLEE_COLUMN = "simulated_callee"
"""A CSV column holding a simulated callee as JSON (API.md, "The simulated carrier"): how a test or
benchmark campaign gives its rows different behaviours. Only agents on the simulator take it."""


def _simulated_callee(cell: Any) -> dict[str, Any] | None:
    if cell is None or cell == "":
        return None
    if isinstance(cell, dict):
        return cell
    try:
        value = json.loads(str(cell))
    except ValueError as exc:
        raise ValueError(f"the {SIMULATED_CALLEE_COLUMN} column is not JSON: {exc}") from None
    if not isinstance(value, dict):
        raise ValueError(f"the {SIMULATED_CALLEE_COLUMN} column must be a JSON object")
    return value
PLACE_CONCURRENCY = 16  # calls of one pass created at once: overlaps their database round trips
CLAIM_SCAN_FACTOR = 4  # rows looked at per free slot: some may be outside their window


@dataclass
class Claim:
    row: Row[Any]
    call_id: uuid.UUID
    campaign: Row[Any]


@dataclass
class PassReport:
    placed: int = 0
    deferred: int = 0  # rows moved to their next window opening or the next day
    failed: int = 0  # rows whose call could not even be created (e.g. the agent was archived)


class CampaignAdmission:
    """Claims due campaign rows under every limit and turns them into calls."""

    def __init__(
        self,
        db: Database,
        calls_service: CallService,
        *,
        max_live_per_org: int = 100,
        carrier_timeout_s: float = 180.0,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.db = db
        self.calls = calls_service
        self.max_live_per_org = max_live_per_org
        self.carrier_timeout_s = carrier_timeout_s
        self.clock = clock

    async def run_once(self) -> PassReport:
        """One pass: free stuck slots, then fill every running campaign's free slots."""
        now = self.clock()
        await self.expire_silent_dials(now)
        await self.release_orphans(now)
        async with self.db.read() as conn:
            running = (
                await conn.execute(
                    sa.select(campaigns.c.id).where(
                        campaigns.c.status == "running",
                        sa.or_(campaigns.c.start_at.is_(None), campaigns.c.start_at <= now),
                    )
                )
            ).all()
        report = PassReport()
        limit = asyncio.Semaphore(PLACE_CONCURRENCY)

        async def place(claim: Claim) -> bool:
            async with limit:
                return await self._place(claim)

        for (campaign_id,) in running:
            claims, deferred = await self._claim(campaign_id, now)
            report.deferred += deferred
            for placed in await asyncio.gather(*(place(c) for c in claims)):
                if placed:
                    report.placed += 1
                else:
                    report.failed += 1
        return report

    async def _claim(self, campaign_id: uuid.UUID, now: datetime) -> tuple[list[Claim], int]:
        def claim(conn: Connection) -> tuple[list[Claim], int]:
            return self._claim_sync(conn, campaign_id, now)

        return await self.db.run_tx(claim)

    def _claim_sync(self, conn: Connection, campaign_id: uuid.UUID, now: datetime) -> tuple[list[Claim], int]:
        postgres = conn.dialect.name == "postgresql"
        q = sa.select(campaigns).where(campaigns.c.id == campaign_id, campaigns.c.status == "running")
        campaign = conn.execute(q.with_for_update() if postgres else q).first()
        if campaign is None:
            return [], 0
        dialing = conn.execute(
            sa.select(sa.func.count())
            .select_from(campaign_contacts)
            .where(campaign_contacts.c.campaign_id == campaign_id, campaign_contacts.c.state == "dialing")
        ).scalar_one()
        org_live = conn.execute(org_live_count(campaign.org_id, with_queued=True)).scalar_one()
        free = min(campaign.max_concurrency - dialing, self.max_live_per_org - org_live)
        if free <= 0:
            return [], 0
        due = (
            sa.select(campaign_contacts)
            .where(
                campaign_contacts.c.campaign_id == campaign_id,
                campaign_contacts.c.state == "pending",
                sa.or_(campaign_contacts.c.next_attempt_at.is_(None), campaign_contacts.c.next_attempt_at <= now),
            )
            .order_by(campaign_contacts.c.next_attempt_at.is_not(None), campaign_contacts.c.next_attempt_at,
                      campaign_contacts.c.row_number)
            .limit(free * CLAIM_SCAN_FACTOR)
        )
        rows = conn.execute(due.with_for_update(skip_locked=True) if postgres else due).all()
        window = CallingWindow.model_validate(campaign.calling_window)
        claims: list[Claim] = []
        deferred = 0
        for row in rows:
            if len(claims) >= free:
                break
            zone = window.zone_for(row.timezone, row.phone_number)
            later: datetime | None = None
            if not window.is_open(now, zone):
                later = window.next_open(now, zone)
            elif day_capped(row.attempt_day, row.attempts_that_day, now, zone, campaign.max_attempts_per_day):
                later = window.next_day_open(now, zone)
            if later is not None:
                deferred += 1
                conn.execute(
                    campaign_contacts.update()
                    .where(campaign_contacts.c.id == row.id)
                    .values(next_attempt_at=later, updated_at=now)
                )
                continue
            day, count = attempts_today(row.attempt_day, row.attempts_that_day, now, zone)
            call_id = uuid.uuid4()
            conn.execute(
                campaign_contacts.update()
                .where(campaign_contacts.c.id == row.id, campaign_contacts.c.state == "pending")
                .values(
                    state="dialing", attempts=row.attempts + 1, last_call_id=call_id, attempt_day=day,
                    attempts_that_day=count + 1, next_attempt_at=None, updated_at=now,
                )
            )
            claims.append(Claim(row=row, call_id=call_id, campaign=campaign))
        return claims, deferred

    async def _place(self, claim: Claim) -> bool:
        row, campaign = claim.row, claim.campaign
        variables = dict(row.variables or {})
        try:
            contact = ContactIn(
                phone_number=row.phone_number, first_name=row.first_name, last_name=row.last_name,
                email=row.email, external_id=row.external_id, timezone=row.timezone,
            )
            callee = _simulated_callee(variables.pop(SIMULATED_CALLEE_COLUMN, None))
            request = NewCall(
                agent_id=campaign.agent_id, contact=contact, update_existing=True,
                call_source=campaign.call_source,
                metadata={**(campaign.metadata or {}), "campaign_row": row.row_number},
                retry_context=row.retry_context, campaign_id=campaign.id, campaign_contact_id=row.id,
                campaign={"context": campaign.context} if campaign.context is not None else {},
                campaign_row=variables, call_id=claim.call_id, attempt=row.attempts + 1,
                simulated_callee=callee,
            )
            await self.calls.create(campaign.org_id, request)
            return True
        except OnDoNotCallList as exc:  # listed since the upload
            await self._settle_unplaced(row.id, claim.call_id, "skipped_dnc", exc.detail)
        except ServiceError as exc:
            await self._settle_unplaced(row.id, claim.call_id, "failed", exc.detail)
        except (ValueError, ValidationError) as exc:  # a row the call API would refuse
            await self._settle_unplaced(row.id, claim.call_id, "failed", str(exc))
        except Exception as exc:  # a bug must not leave the row claimed forever
            log.exception("placing a campaign call failed")
            await self._settle_unplaced(row.id, claim.call_id, "failed", f"{type(exc).__name__}: {exc}")
        return False

    async def _settle_unplaced(self, row_id: uuid.UUID, call_id: uuid.UUID, state: str, error: str) -> None:
        now = self.clock()

        def settle(conn: Connection) -> None:
            found = conn.execute(
                campaign_contacts.update()
                .where(campaign_contacts.c.id == row_id, campaign_contacts.c.last_call_id == call_id,
                       campaign_contacts.c.state == "dialing")
                .values(state=state, last_outcome=state, errors=[error], updated_at=now, last_call_id=None)
                .returning(campaign_contacts.c.campaign_id)
            ).first()
            if found is not None:
                finish_if_done_sync(conn, found.campaign_id, now)

        await self.db.run_tx(settle)

    async def release_orphans(self, now: datetime, grace_s: float = 60.0) -> int:
        """Rows claimed by a process that died before creating their call go back to pending."""
        cutoff = now - timedelta(seconds=grace_s)
        orphaned = (
            sa.select(campaign_contacts.c.id)
            .where(
                campaign_contacts.c.state == "dialing",
                campaign_contacts.c.updated_at < cutoff,
                ~sa.exists().where(calls.c.id == campaign_contacts.c.last_call_id),
            )
            .limit(500)
        )

        def release(conn: Connection) -> int:
            ids = [r.id for r in conn.execute(orphaned).all()]
            if not ids:
                return 0
            conn.execute(
                campaign_contacts.update()
                .where(
                    campaign_contacts.c.id.in_(ids), campaign_contacts.c.state == "dialing",
                    # Re-checked under the row lock: a call created meanwhile touched the row.
                    campaign_contacts.c.updated_at < cutoff,
                )
                .values(state="pending", attempts=campaign_contacts.c.attempts - 1,
                        attempts_that_day=campaign_contacts.c.attempts_that_day - 1, last_call_id=None,
                        updated_at=now)
            )
            return len(ids)

        released: int = await self.db.run_tx(release)
        if released:
            log.warning("gave back %d campaign rows whose call was never created", released)
        return released

    async def expire_silent_dials(self, now: datetime) -> int:
        """Calls dialed long ago that the carrier never reported on (no ringing, no answer, no end)
        end as failed, recorded as ``no_carrier_callback``: their slot is not held forever."""
        cutoff = now - timedelta(seconds=self.carrier_timeout_s)
        async with self.db.read() as conn:
            stuck = (
                await conn.execute(
                    sa.select(calls.c.id)
                    .where(calls.c.status.in_(("dialing", "ringing")), calls.c.started_at < cutoff)
                    .limit(500)
                )
            ).all()
        expired = 0
        for (call_id,) in stuck:
            if await call_state.finish(
                self.db, call_id, "failed", "no_carrier_callback",
                error=f"the carrier reported nothing within {self.carrier_timeout_s:.0f} s of dialing",
            ):
                expired += 1
        if expired:
            log.warning("ended %d calls the carrier never reported on (slot timeout)", expired)
        return expired
