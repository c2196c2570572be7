"""Test support: real servers on loopback, real databases (SQLite file and PostgreSQL)."""

from __future__ import annotations

import asyncio
import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
import uvicorn

from callwright.app import create_app
from callwright.services.carriers import CarrierRegistry
from callwright.services.dispatch import CallQueue
from callwright.services.orgs import create_key
from callwright.settings import Settings
from callwright.store.db import Database

PG_ADMIN_DSN = os.environ.get("CALLWRIGHT_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def postgres_url_or_skip() -> str:
    """A fresh PostgreSQL database for this run; mandatory under CI=true, a loud skip elsewhere."""
    import asyncpg

    name = f"cw_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"

    async def _create() -> None:
        conn = await asyncpg.connect(PG_ADMIN_DSN, timeout=5)
        try:
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()

    try:
        asyncio.run(_create())
    except Exception as exc:
        reason = f"PostgreSQL at {PG_ADMIN_DSN} is unreachable ({exc!r}); PostgreSQL tests NOT run"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(reason + " — required under CI=true")
        pytest.skip("!!! " + reason)
    base = PG_ADMIN_DSN.rsplit("/", 1)[0]
    return f"{base.replace('postgresql://', 'postgresql+asyncpg://')}/{name}"


def drop_postgres(url: str) -> None:
    import asyncpg

    name = url.rsplit("/", 1)[1]

    async def _drop() -> None:
        conn = await asyncpg.connect(PG_ADMIN_DSN, timeout=5)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()

    asyncio.run(_drop())


def database_url(backend: str, tmp: Path) -> str:
    if backend == "sqlite":
        return f"sqlite+aiosqlite:///{tmp / 'test.db'}"
    return postgres_url_or_skip()


@contextmanager
def running_server(
    settings: Settings, queue: CallQueue | None = None, carriers: CarrierRegistry | None = None
) -> Iterator[str]:
    """Serve the app with uvicorn on loopback in a thread; yield its base URL. Without a
    ``queue`` the voice runtime runs too, on ``settings.port``."""
    port = settings.port if queue is None else free_port()
    app = create_app(settings, queue=queue, voice=queue is None, carriers=carriers)
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", ws_ping_interval=None)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("test server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)


def new_key(db_url: str, org: str | None = None) -> str:
    async def _make() -> str:
        db = Database(db_url)
        try:
            await db.migrate()
            return (await create_key(db, org or f"org-{uuid.uuid4().hex[:8]}")).key
        finally:
            await db.dispose()

    return asyncio.run(_make())


def client_for(base_url: str, key: str) -> httpx.Client:
    return httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {key}"}, timeout=30)


def set_call_columns(db_url: str, call_id: str, **values: object) -> None:
    """Change a call row directly, as another process (or a crash) would have left it."""
    from callwright.store.tables import calls

    async def _update() -> None:
        db = Database(db_url)
        try:
            async with db.tx() as conn:
                await conn.execute(calls.update().where(calls.c.id == uuid.UUID(call_id)).values(**values))
        finally:
            await db.dispose()

    asyncio.run(_update())
