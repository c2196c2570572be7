"""Dashboard sessions in the store: only a hash of the token is kept, and a session ends when it
expires, when its API key is revoked, or at sign-out."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import sqlalchemy as sa

from callwright.services import dashboard_sessions, orgs
from callwright.store.db import Database
from callwright.store.tables import api_keys
from callwright.store.tables import dashboard_sessions as sessions_table
from callwright.store.types import utcnow


async def _signed_in(tmp_path: Path) -> tuple[Database, orgs.NewKey, str]:
    db = Database(f"sqlite+aiosqlite:///{tmp_path}/s.db")
    await db.migrate()
    key = await orgs.create_key(db, "acme")
    made = await dashboard_sessions.sign_in(db, orgs.KeyVerifier(db, cache_s=0), key.key)
    assert made is not None
    return db, key, made[0]


async def test_the_store_keeps_only_a_hash_of_the_token(tmp_path: Path) -> None:
    db, key, token = await _signed_in(tmp_path)
    try:
        async with db.read() as conn:
            row = (await conn.execute(sa.select(sessions_table))).one()
        assert token not in {str(v) for v in row}
        session = await dashboard_sessions.lookup(db, token)
        assert session is not None and session.principal.org_id == key.org_id
        assert await dashboard_sessions.lookup(db, token + "x") is None
    finally:
        await db.dispose()


async def test_an_expired_session_is_refused(tmp_path: Path) -> None:
    db, _, token = await _signed_in(tmp_path)
    try:
        async with db.tx() as conn:
            await conn.execute(sessions_table.update().values(expires_at=utcnow() - timedelta(seconds=1)))
        assert await dashboard_sessions.lookup(db, token) is None
    finally:
        await db.dispose()


async def test_revoking_the_key_ends_its_sessions(tmp_path: Path) -> None:
    db, key, token = await _signed_in(tmp_path)
    try:
        async with db.tx() as conn:
            await conn.execute(api_keys.update().where(api_keys.c.id == key.key_id).values(revoked_at=utcnow()))
        assert await dashboard_sessions.lookup(db, token) is None
    finally:
        await db.dispose()


async def test_a_bad_key_makes_no_session(tmp_path: Path) -> None:
    db, _, _ = await _signed_in(tmp_path)
    try:
        assert await dashboard_sessions.sign_in(db, orgs.KeyVerifier(db), "cw_live_nope") is None
        assert await dashboard_sessions.sign_in(db, orgs.KeyVerifier(db), "") is None
    finally:
        await db.dispose()
