"""Signed delivery with retries (Standard Webhooks).

A delivery is claimed with a lease, sent, and its outcome recorded; a process that dies with
deliveries in flight leaves them to be claimed again when the lease runs out, so every event
arrives at least once, always under its original ``webhook-id``. Anything but a 2xx within
the timeout is retried on ``schedule`` (honouring ``Retry-After``); a 410 disables the target.

Claims, sends and records are pipelined: sends run concurrently up to ``concurrency``, and
their outcomes are written in batches, so a slow receiver holds one slot, not the queue.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from standardwebhooks.webhooks import Webhook

from callwright import __version__
from callwright.net import FetchError, Limits, SafeHttpClient
from callwright.observability import WEBHOOK_DELIVERIES
from callwright.services.secrets import SecretBox
from callwright.store.db import Database
from callwright.store.tables import webhook_deliveries, webhook_targets
from callwright.store.types import utcnow
from callwright.store.wakeups import Wakeups

log = logging.getLogger("callwright.webhooks")

RETRY_SCHEDULE_S: tuple[float, ...] = (0, 5, 300, 1800, 7200, 18000, 36000, 36000)
"""Waits before each retry after a failed attempt: at once, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h."""
MAX_RETRY_AFTER_S = 36000.0
MAX_LOGGED_ATTEMPTS = 20
CLAIM_BATCH = 500
RECORD_COALESCE_S = 0.005
USER_AGENT = f"Callwright-Webhooks/{__version__}"


@dataclass(frozen=True)
class Outcome:
    delivery_id: uuid.UUID
    target_id: uuid.UUID
    attempts: int
    at: datetime
    status_code: int | None
    error: str | None
    duration_ms: float
    retry_after_s: float | None
    attempt_log: list[dict[str, Any]]
    canceled: bool = False  # not sent: the target is gone or disabled

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def retry_after_seconds(value: str | None, now: datetime) -> float | None:
    """``Retry-After`` as seconds or an HTTP date; None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return min(float(value), MAX_RETRY_AFTER_S)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return min(max(0.0, (when - now).total_seconds()), MAX_RETRY_AFTER_S)


def signed_headers(secret: str, webhook_id: str, payload: str, at: datetime) -> dict[str, str]:
    return {
        "content-type": "application/json",
        "user-agent": USER_AGENT,
        "webhook-id": webhook_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": Webhook(secret).sign(webhook_id, at, payload),
    }


class WebhookSender:
    def __init__(
        self,
        db: Database,
        box: SecretBox,
        client: SafeHttpClient,
        *,
        schedule: tuple[float, ...] = RETRY_SCHEDULE_S,
        timeout_s: float = 15.0,
        concurrency: int = 128,  # at most the HTTP client's idle connections per host, so none is thrown away
        poll_s: float = 0.5,
    ) -> None:
        self.db = db
        self.box = box
        self.client = client
        self.schedule = schedule
        self.timeout_s = timeout_s
        self.lease_s = timeout_s + 30.0
        self.concurrency = concurrency
        self.poll_s = poll_s
        self.wakeups = Wakeups()
        self._inflight: set[asyncio.Task[None]] = set()
        self._claimed: set[uuid.UUID] = set()
        self._outcomes: list[Outcome] = []
        self._recorded = Wakeups()

    # --- the loop -----------------------------------------------------------------------------

    async def run(self) -> None:
        recorder = asyncio.create_task(self._record_forever(), name="webhook-recorder")
        try:
            while True:
                want = min(self.concurrency - len(self._inflight), CLAIM_BATCH)
                claimed = await self._claim(want) if want > 0 else []
                if claimed:
                    await self._start(claimed)
                if len(claimed) < want or want == 0:  # drained (or full): wait for new work or a free slot
                    await self.wakeups.wait(self.poll_s)
        finally:
            for task in list(self._inflight):
                task.cancel()
            await asyncio.gather(*self._inflight, return_exceptions=True)
            recorder.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await recorder
            await asyncio.shield(self._release())

    async def _release(self) -> None:
        """On shutdown: record what finished, hand back what did not (no wait for the lease)."""
        await self._flush()
        if not self._claimed:
            return
        ids, self._claimed = list(self._claimed), set()
        async with self.db.tx() as conn:
            await conn.execute(
                webhook_deliveries.update()
                .where(webhook_deliveries.c.id.in_(ids), webhook_deliveries.c.status == "sending")
                .values(status="pending", claimed_until=None, updated_at=utcnow())
            )

    async def drain(self) -> int:
        """Send everything due now and record it (tests and benchmarks); returns how many were sent."""
        sent = 0
        while True:
            claimed = await self._claim(500)
            if not claimed:
                break
            sent += len(claimed)
            await self._start(claimed)
            await asyncio.gather(*list(self._inflight), return_exceptions=True)
            await self._flush()
        return sent

    async def _start(self, claimed: list[Any]) -> None:
        query = sa.select(webhook_targets).where(webhook_targets.c.id.in_(list({d.target_id for d in claimed})))
        targets = {t.id: t for t in await self.db.run_read(lambda conn: conn.execute(query).all())}
        for delivery in claimed:
            self._claimed.add(delivery.id)
            task = asyncio.create_task(self._send(delivery, targets.get(delivery.target_id)))
            self._inflight.add(task)
            task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        was_full = len(self._inflight) >= self.concurrency
        self._inflight.discard(task)
        if was_full:
            self.wakeups.notify()  # a slot is free

    async def _claim(self, limit: int) -> list[Any]:
        now = utcnow()
        due = (
            sa.select(webhook_deliveries.c.id)
            .where(
                sa.or_(
                    sa.and_(webhook_deliveries.c.status == "pending", webhook_deliveries.c.next_attempt_at <= now),
                    sa.and_(webhook_deliveries.c.status == "sending", webhook_deliveries.c.claimed_until < now),
                )
            )
            .order_by(webhook_deliveries.c.next_attempt_at)
            .limit(limit)
        )
        if not self.db.is_sqlite:
            due = due.with_for_update(skip_locked=True)
        claim = (
            webhook_deliveries.update()
            .where(webhook_deliveries.c.id.in_(due.scalar_subquery()))
            .values(status="sending", claimed_until=now + timedelta(seconds=self.lease_s), updated_at=now)
            .returning(
                webhook_deliveries.c.id, webhook_deliveries.c.target_id, webhook_deliveries.c.event_id,
                webhook_deliveries.c.url, webhook_deliveries.c.payload, webhook_deliveries.c.attempts,
                webhook_deliveries.c.attempt_log,
            )
        )
        return list(await self.db.run_tx(lambda conn: conn.execute(claim).all()))

    # --- one attempt --------------------------------------------------------------------------

    async def _send(self, delivery: Any, target: Any) -> None:
        at = utcnow()
        attempts = delivery.attempts + 1
        status_code: int | None = None
        error: str | None = None
        retry_after: float | None = None
        elapsed = 0.0
        if target is None or not target.enabled:
            reason = "the webhook target was deleted" if target is None else "the webhook target is disabled"
            self._add(Outcome(delivery.id, delivery.target_id, delivery.attempts, at, None, reason, 0.0, None,
                              list(delivery.attempt_log), canceled=True))
            return
        try:
            headers = signed_headers(self.box.decrypt(target.secret), str(delivery.event_id), delivery.payload, at)
            response = await self.client.request(
                "POST", delivery.url, headers=headers, body=delivery.payload.encode(),
                limits=Limits(connect_timeout_s=min(5.0, self.timeout_s), total_timeout_s=self.timeout_s,
                              max_response_bytes=64 * 1024),
            )
            status_code = response.status_code
            elapsed = response.elapsed_ms
            if not response.is_success:
                error = f"HTTP {status_code} from the receiver"
                retry_after = retry_after_seconds(response.header("retry-after"), at)
        except FetchError as exc:
            error = exc.message
            elapsed = (utcnow() - at).total_seconds() * 1000
        except Exception as exc:  # never let one delivery take the sender down
            log.exception("webhook delivery failed unexpectedly")
            error = f"internal error: {type(exc).__name__}"
        entry = {"at": at.isoformat().replace("+00:00", "Z"), "status_code": status_code, "error": error,
                 "duration_ms": round(elapsed, 1)}
        attempt_log = [*delivery.attempt_log, entry][-MAX_LOGGED_ATTEMPTS:]
        self._add(Outcome(delivery.id, delivery.target_id, attempts, at, status_code, error, elapsed, retry_after,
                          attempt_log))

    def _add(self, outcome: Outcome) -> None:
        self._outcomes.append(outcome)
        self._recorded.notify()

    # --- recording outcomes -------------------------------------------------------------------

    async def _record_forever(self) -> None:
        while True:
            if await self._recorded.wait(self.poll_s):
                await asyncio.sleep(RECORD_COALESCE_S)  # let the sends finishing together share a write
            await self._flush()

    async def _flush(self) -> None:
        if not self._outcomes:
            return
        batch, self._outcomes = self._outcomes, []
        now = utcnow()
        updates: list[dict[str, Any]] = []
        disabled: dict[uuid.UUID, str] = {}
        for o in batch:
            self._claimed.discard(o.delivery_id)
            values: dict[str, Any] = {"b_id": o.delivery_id, "claimed_until": None, "updated_at": now,
                                      "attempt_log": o.attempt_log, "last_error": o.error,
                                      "last_status_code": o.status_code, "delivered_at": None, "next_attempt_at": None}
            if o.canceled:
                values.update(status="canceled", attempts=o.attempts)
                WEBHOOK_DELIVERIES.labels("canceled").inc()
            elif o.ok:
                values.update(status="succeeded", attempts=o.attempts, delivered_at=o.at)
                WEBHOOK_DELIVERIES.labels("succeeded").inc()
            elif o.status_code == 410:
                values.update(status="failed", attempts=o.attempts)
                disabled[o.target_id] = f"the receiver answered 410 Gone at {o.at.isoformat()}"
                WEBHOOK_DELIVERIES.labels("gone").inc()
            elif o.attempts > len(self.schedule):
                values.update(status="failed", attempts=o.attempts)
                WEBHOOK_DELIVERIES.labels("failed").inc()
            else:
                wait = max(self.schedule[o.attempts - 1], o.retry_after_s or 0.0)
                values.update(status="pending", attempts=o.attempts, next_attempt_at=o.at + timedelta(seconds=wait))
                WEBHOOK_DELIVERIES.labels("retrying").inc()
            updates.append(values)
        statement = (
            webhook_deliveries.update()
            .where(webhook_deliveries.c.id == sa.bindparam("b_id"), webhook_deliveries.c.status == "sending")
        )

        def record(conn: Connection) -> None:
            conn.execute(statement, updates)
            for target_id, reason in disabled.items():
                conn.execute(
                    webhook_targets.update()
                    .where(webhook_targets.c.id == target_id)
                    .values(enabled=False, disabled_reason=reason, updated_at=now)
                )
                conn.execute(
                    webhook_deliveries.update()
                    .where(webhook_deliveries.c.target_id == target_id, webhook_deliveries.c.status == "pending")
                    .values(status="canceled", last_error="the webhook target was disabled (410 Gone)", updated_at=now)
                )

        await self.db.run_tx(record)
        if any(u["status"] == "pending" for u in updates):
            self.wakeups.notify()
