"""What a campaign row becomes when its call ends: done, or due again (a retry), in the same
transaction as the call's own end, so a row can never be left waiting on a call that is over.

Called by ``call_state.finish_sync`` for calls that carry a ``campaign_contact_id``.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from callwright.domain.agent import RetryPolicy
from callwright.domain.campaign_schedule import CallingWindow, next_attempt_at, next_dial_at, retry_context_for
from callwright.store.tables import calls, campaign_contacts, campaigns

CONNECTED = frozenset({"completed", "voicemail"})
"""Outcomes where the call reached someone (or their voicemail): the row is done, unless retried."""


def call_ended_sync(conn: Connection, call_id: uuid.UUID, status: str, now: datetime) -> uuid.UUID | None:
    """Settle the campaign row of a call that just ended with ``status``; returns the campaign's id
    (so the caller can check whether the campaign is complete), or None for a call of no campaign."""
    call = conn.execute(
        sa.select(
            calls.c.campaign_contact_id, calls.c.campaign_id, calls.c.results
        ).where(calls.c.id == call_id)
    ).first()
    if call is None or call.campaign_contact_id is None:
        return None
    row = conn.execute(
        sa.select(campaign_contacts).where(
            campaign_contacts.c.id == call.campaign_contact_id, campaign_contacts.c.last_call_id == call_id
        )
    ).first()
    if row is None or row.state != "dialing":
        return uuid.UUID(str(call.campaign_id))  # the row moved on (canceled campaign, a newer attempt)
    campaign = conn.execute(sa.select(campaigns).where(campaigns.c.id == row.campaign_id)).one()
    values: dict[str, Any] = {"last_outcome": status, "updated_at": now}
    due = None
    if campaign.status not in ("canceled", "completed"):
        due = next_attempt_at(RetryPolicy.model_validate(campaign.retry), row.attempts, status, now)
    if due is not None:
        window = CallingWindow.model_validate(campaign.calling_window)
        zone = window.zone_for(row.timezone, row.phone_number)
        values.update(
            state="pending",
            next_attempt_at=next_dial_at(
                window, zone, due, attempt_day=row.attempt_day, attempts_that_day=row.attempts_that_day,
                max_attempts_per_day=campaign.max_attempts_per_day,
            ),
            retry_context=retry_context_for(
                row.retry_context, dict(call.results or {}), _stage(call.results), str(call_id)
            ),
        )
    else:
        values["state"] = "completed" if status in CONNECTED else ("canceled" if status == "canceled" else "failed")
        values["next_attempt_at"] = None
    conn.execute(campaign_contacts.update().where(campaign_contacts.c.id == row.id).values(**values))
    return uuid.UUID(str(row.campaign_id))


def _stage(results: dict[str, Any] | None) -> str | None:
    """Where a flow stopped, when its results say (the engine records ``stage`` for resumable flows)."""
    stage = (results or {}).get("stage")
    return str(stage) if stage else None
