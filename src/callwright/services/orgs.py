"""Organizations and API keys. Keys are shown once and stored only as a SHA-256 hash."""

from __future__ import annotations

import hashlib
import secrets
import time
import uuid
from dataclasses import dataclass

import sqlalchemy as sa

from callwright.store.db import Database
from callwright.store.tables import api_keys, organizations
from callwright.store.types import utcnow

KEY_PREFIX = "cw_live_"


@dataclass(frozen=True)
class Principal:
    """Who is calling: every query is scoped to ``org_id``."""

    org_id: uuid.UUID
    key_id: uuid.UUID


@dataclass(frozen=True)
class NewKey:
    key: str
    key_id: uuid.UUID
    org_id: uuid.UUID
    org_name: str


def hash_key(key: str) -> str:
    # Keys carry 256 random bits, so a fast hash is enough; there is nothing to brute-force.
    return hashlib.sha256(key.encode()).hexdigest()


async def ensure_org(db: Database, name: str) -> uuid.UUID:
    async with db.tx() as conn:
        row = (await conn.execute(sa.select(organizations.c.id).where(organizations.c.name == name))).first()
        if row:
            return uuid.UUID(str(row.id))
        org_id = uuid.uuid4()
        await conn.execute(organizations.insert().values(id=org_id, name=name, created_at=utcnow()))
        return org_id


async def create_key(db: Database, org_name: str, key_name: str = "") -> NewKey:
    org_id = await ensure_org(db, org_name)
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    key_id = uuid.uuid4()
    async with db.tx() as conn:
        await conn.execute(
            api_keys.insert().values(
                id=key_id, org_id=org_id, key_hash=hash_key(key), prefix=key[: len(KEY_PREFIX) + 6],
                name=key_name, created_at=utcnow(),
            )
        )
    return NewKey(key=key, key_id=key_id, org_id=org_id, org_name=org_name)


async def count_keys(db: Database) -> int:
    async with db.read() as conn:
        return int((await conn.execute(sa.select(sa.func.count()).select_from(api_keys))).scalar_one())


class KeyVerifier:
    """Resolves a bearer key to its organization, with a short in-memory cache for hot paths."""

    def __init__(self, db: Database, cache_s: float = 30.0) -> None:
        self._db = db
        self._cache_s = cache_s
        self._cache: dict[str, tuple[float, Principal]] = {}

    async def verify(self, key: str) -> Principal | None:
        if not key.startswith(KEY_PREFIX) or len(key) > 200:
            return None
        digest = hash_key(key)
        hit = self._cache.get(digest)
        now = time.monotonic()
        if hit and hit[0] > now:
            return hit[1]
        q = sa.select(api_keys.c.id, api_keys.c.org_id).where(
            api_keys.c.key_hash == digest, api_keys.c.revoked_at.is_(None)
        )
        row = await self._db.run_read(lambda conn: conn.execute(q).first())
        if row is None:
            self._cache.pop(digest, None)
            return None
        principal = Principal(org_id=uuid.UUID(str(row.org_id)), key_id=uuid.UUID(str(row.id)))
        if len(self._cache) > 10_000:
            self._cache.clear()
        self._cache[digest] = (now + self._cache_s, principal)
        return principal
