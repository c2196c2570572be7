"""Dialing: claim a queued call, open it with its carrier, and follow the carrier's status."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import secrets
import uuid
from collections.abc import Callable, Coroutine
from typing import Any

import sqlalchemy as sa

from callwright.domain.call import LIVE_STATUSES, TERMINAL_STATUSES
from callwright.observability import trace_id_var
from callwright.services import call_state
from callwright.services.agents import version_by_id
from callwright.services.carriers import CarrierRegistry, UnknownCarrier
from callwright.services.live_calls import LiveCalls, org_live_count
from callwright.services.runners import MediaDirectory
from callwright.store.db import Database
from callwright.store.tables import calls
from callwright.store.types import utcnow
from callwright.telephony.base import DialRequest, StatusEvent

log = logging.getLogger("callwright.dialer")

_TERMINAL_CARRIER_STATUS = {"busy": "busy", "no_answer": "no_answer", "failed": "failed", "canceled": "canceled"}
COMPLETED_GRACE_S = 5.0


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Dialer:
    """Idempotent: ``dial`` claims the row with a conditional update, so a task delivered twice
    dials once. A call is claimed only once a media process has room for its stream; without
    room it stays ``queued`` and the reconciler wakes it again."""

    def __init__(
        self,
        db: Database,
        carriers: CarrierRegistry,
        media: MediaDirectory,
        runner_id: str,
        live: LiveCalls,
        on_dialed: Callable[[uuid.UUID], Coroutine[Any, Any, None]] | None = None,
        max_live_per_org: int | None = None,
    ) -> None:
        """``on_dialed`` runs beside the ringing phone (the dynamic-context prefetch); ``live`` is
        this runtime's live sessions (a call live here is never closed as stream-less).
        ``max_live_per_org``: an organization's calls being dialed or talking at most; a call over
        it stays queued (campaign claims count against it too, and hold it strictly)."""
        self.max_live_per_org = max_live_per_org
        self.db = db
        self.on_dialed = on_dialed
        self.carriers = carriers
        self.media = media
        self.runner_id = runner_id
        self.live = live
        self._background: set[asyncio.Task[Any]] = set()

    async def dial(self, call_id: uuid.UUID) -> bool:
        async with self.db.read() as conn:
            found = (await conn.execute(sa.select(calls.c.status, calls.c.org_id).where(calls.c.id == call_id))).first()
            if found is None or found.status != "queued":
                return False
            if self.max_live_per_org is not None:
                live = (await conn.execute(org_live_count(found.org_id))).scalar_one()
                if live >= self.max_live_per_org:
                    log.info("the organization has %d live calls (its limit); the call stays queued", live,
                             extra={"call_id": str(call_id)})
                    return False
        slot = await self.media.reserve()
        if slot is None:
            log.warning(
                "no media process has room for the call's stream; it stays queued and is retried",
                extra={"call_id": str(call_id)},
            )
            return False
        try:
            placed = await self._dial(call_id, slot.url)
        except BaseException:
            await self.media.release(slot)
            raise
        if not placed:
            await self.media.release(slot)
        return placed

    async def _dial(self, call_id: uuid.UUID, stream_url: str) -> bool:
        """Claim the call and open it with its carrier, streaming to ``stream_url``."""
        token = secrets.token_urlsafe(24)
        claimed = await call_state.transition(
            self.db,
            call_id,
            ["queued"],
            "dialing",
            started_at=utcnow(),
            stream_token_hash=hash_token(token),
            runner_id=self.runner_id,
        )
        if not claimed:
            return False
        async with self.db.read() as conn:
            row = (await conn.execute(sa.select(calls).where(calls.c.id == call_id))).one()
        trace_id_var.set(row.trace_id)
        try:
            version = await version_by_id(self.db, row.org_id, row.agent_version_id)
            carrier = self.carriers.get(version.settings.phone.provider)
            request = DialRequest(
                call_id=str(call_id),
                to=row.to_number,
                from_number=row.from_number or "",
                stream_url=stream_url,
                stream_parameters={"call_id": str(call_id), "token": token},
                simulated_callee=row.simulated_callee,
            )
            provider_call_id = await carrier.place_call(request, self.on_status)
        except (UnknownCarrier, ValueError) as exc:
            await call_state.finish(self.db, call_id, "failed", "carrier_error", error=str(exc))
            log.warning("call could not be placed: %s", exc)
            return True
        except Exception as exc:
            await call_state.finish(self.db, call_id, "failed", "carrier_error", error=f"carrier error: {exc!r}")
            log.exception("carrier failed to place the call")
            return True
        async with self.db.tx() as conn:
            await conn.execute(calls.update().where(calls.c.id == call_id).values(provider_call_id=provider_call_id))
        log.info("dialing %s", row.to_number, extra={"call_id": str(call_id)})
        if self.on_dialed is not None:
            task = asyncio.create_task(self.on_dialed(call_id))
            self._background.add(task)
            task.add_done_callback(self._background.discard)
        return True

    async def on_status(self, event: StatusEvent) -> None:
        call_id = uuid.UUID(event.call_id)
        if event.status == "ringing":
            await call_state.transition(self.db, call_id, ["dialing"], "ringing")
        elif event.status == "answered":
            await call_state.transition(
                self.db,
                call_id,
                ["dialing", "ringing"],
                "in_progress",
                answered_at=utcnow(),
                answered_by=event.answered_by,
            )
        elif event.status in _TERMINAL_CARRIER_STATUS:
            status = _TERMINAL_CARRIER_STATUS[event.status]
            reason = str(event.detail.get("reason") or event.status)
            error = event.detail.get("error")
            await call_state.finish(self.db, call_id, status, reason, error=str(error) if error else None)
        elif event.status == "completed":
            # The media session normally closes the call before the carrier reports the end;
            # give it a moment, then close whatever is still open so nothing stays live forever.
            task = asyncio.create_task(self._close_if_still_live(call_id))
            self._background.add(task)
            task.add_done_callback(self._background.discard)

    async def _close_if_still_live(self, call_id: uuid.UUID) -> None:
        deadline = asyncio.get_running_loop().time() + COMPLETED_GRACE_S
        while asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.25)
            if self.live.is_live_here(call_id):
                continue
            async with self.db.read() as conn:
                status = (await conn.execute(sa.select(calls.c.status).where(calls.c.id == call_id))).scalar()
            if status in TERMINAL_STATUSES:
                return
        if self.live.is_live_here(call_id):
            return
        async with self.db.read() as conn:
            status = (await conn.execute(sa.select(calls.c.status).where(calls.c.id == call_id))).scalar()
        if status in LIVE_STATUSES:
            await call_state.finish(
                self.db,
                call_id,
                "failed",
                "stream_not_connected",
                error="the carrier completed the call but no media stream ran it",
            )

    async def aclose(self) -> None:
        for task in list(self._background):
            task.cancel()
        await asyncio.gather(*self._background, return_exceptions=True)
