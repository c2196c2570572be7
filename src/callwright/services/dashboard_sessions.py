"""Dashboard sign-ins: an API key is exchanged once for a server-side session.

The browser holds only a random token (HttpOnly cookie); the store keeps its SHA-256 hash, the
organization and key it stands for, a per-session CSRF token and an expiry. A revoked key ends
its sessions, because every lookup joins the key and checks it is still live.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import sqlalchemy as sa

from callwright.domain.call import TERMINAL_STATUSES
from callwright.services.orgs import KeyVerifier, Principal
from callwright.store.db import Database
from callwright.store.tables import api_keys, calls, dashboard_sessions, events
from callwright.store.types import utcnow

SESSION_TTL = timedelta(hours=12)


@dataclass(frozen=True)
class DashboardSession:
    """A signed-in browser: every page is scoped to ``principal.org_id``."""

    id: uuid.UUID
    principal: Principal
    csrf_token: str


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def sign_in(db: Database, keys: KeyVerifier, api_key: str) -> tuple[str, DashboardSession] | None:
    """A new session for a live API key (the same check as the API's bearer auth), or None."""
    principal = await keys.verify(api_key.strip())
    if principal is None:
        return None
    token = secrets.token_urlsafe(32)
    session = DashboardSession(id=uuid.uuid4(), principal=principal, csrf_token=secrets.token_urlsafe(32))
    now = utcnow()
    async with db.tx() as conn:
        await conn.execute(dashboard_sessions.delete().where(dashboard_sessions.c.expires_at < now))
        await conn.execute(
            dashboard_sessions.insert().values(
                id=session.id, org_id=principal.org_id, key_id=principal.key_id, token_hash=_hash(token),
                csrf_token=session.csrf_token, created_at=now, expires_at=now + SESSION_TTL,
            )
        )
    return token, session


async def lookup(db: Database, token: str) -> DashboardSession | None:
    """The live session of a cookie's token: unexpired, and its API key not revoked."""
    if not token or len(token) > 200:
        return None
    q = (
        sa.select(dashboard_sessions)
        .join(api_keys, api_keys.c.id == dashboard_sessions.c.key_id)
        .where(
            dashboard_sessions.c.token_hash == _hash(token),
            dashboard_sessions.c.expires_at > utcnow(),
            api_keys.c.revoked_at.is_(None),
        )
    )
    async with db.read() as conn:
        row = (await conn.execute(q)).first()
    if row is None:
        return None
    principal = Principal(org_id=uuid.UUID(str(row.org_id)), key_id=uuid.UUID(str(row.key_id)))
    return DashboardSession(id=uuid.UUID(str(row.id)), principal=principal, csrf_token=str(row.csrf_token))


async def sign_out(db: Database, session_id: uuid.UUID) -> None:
    async with db.tx() as conn:
        await conn.execute(dashboard_sessions.delete().where(dashboard_sessions.c.id == session_id))


@dataclass(frozen=True)
class LiveState:
    """What the live view of a call needs: its status, transcript and events after a cursor."""

    status: str
    transcript: list[dict[str, Any]]
    events: list[dict[str, Any]]
    ended: bool


async def live_state(db: Database, org_id: uuid.UUID, call_id: uuid.UUID, seen_events: int) -> LiveState | None:
    """The call's row (kept current by the media session's live transcript writer) and its events
    past the first ``seen_events``; None when the call is not this organization's."""
    async with db.read() as conn:
        row = (
            await conn.execute(
                sa.select(calls.c.status, calls.c.transcript).where(calls.c.id == call_id, calls.c.org_id == org_id)
            )
        ).first()
        if row is None:
            return None
        rows = (
            await conn.execute(
                sa.select(events.c.type, events.c.created_at)
                .where(events.c.call_id == call_id, events.c.org_id == org_id)
                .order_by(events.c.created_at, events.c.id)
                .offset(seen_events)
            )
        ).all()
    return LiveState(
        status=str(row.status),
        transcript=list(row.transcript or []),
        events=[{"type": r.type, "at": r.created_at.isoformat()} for r in rows],
        ended=str(row.status) in TERMINAL_STATUSES,
    )
