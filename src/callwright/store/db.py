"""Engine creation and migrations; the same code drives SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.engine.url import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from callwright.store.wakeups import Wakeups

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
T = TypeVar("T")


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    # WAL lets readers run beside the single writer; NORMAL sync is durable across process crashes.
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


class Database:
    """Owns the async engine. Services open short transactions with ``tx()``."""

    def __init__(self, url: str) -> None:
        self.url = make_url(url)
        self.is_sqlite = self.url.get_backend_name() == "sqlite"
        self.wakeups = Wakeups()
        self.dial_wakeups = Wakeups()  # a slot freed or rows made due: campaign admission runs now
        kwargs: dict[str, Any] = {}
        if self.is_sqlite:
            db_path = self.url.database
            if db_path and db_path != ":memory:":
                Path(db_path).parent.mkdir(parents=True, exist_ok=True)
        else:
            kwargs.update(pool_size=20, max_overflow=20, pool_pre_ping=True)
        self.engine: AsyncEngine = create_async_engine(self.url, **kwargs)
        self._lock: asyncio.Lock | None = None
        self._lock_loop: asyncio.AbstractEventLoop | None = None
        self._inline: Engine | None = None
        if self.is_sqlite:
            event.listen(self.engine.sync_engine, "connect", _sqlite_pragmas)
            if self.url.database and self.url.database != ":memory:":
                # The same file through the plain sqlite3 driver, for run_tx(); it never waits for
                # SQLite's file lock (busy_timeout 0), so it cannot stall the event loop on it.
                self._inline = create_engine(self.url.set(drivername="sqlite"), pool_size=2, max_overflow=2)
                event.listen(self._inline, "connect", _sqlite_pragmas)
                event.listen(self._inline, "connect", _no_busy_wait)

    @asynccontextmanager
    async def tx(self) -> AsyncIterator[AsyncConnection]:
        """A transaction. On SQLite, transactions of this process take turns (an asyncio lock):
        SQLite has one writer at a time, and writers polling its file lock (busy_timeout) make
        long latency tails; queueing them here is fair and cheap. Reads (``read()``) stay
        concurrent under WAL. Do not open a ``tx()`` inside another one on SQLite."""
        lock = self._write_lock()
        if lock is None:
            async with self.engine.begin() as conn:
                yield conn
            return
        async with lock, self.engine.begin() as conn:
            yield conn

    def _write_lock(self) -> asyncio.Lock | None:
        if not self.is_sqlite:
            return None
        loop = asyncio.get_running_loop()
        if self._lock_loop is not loop:  # an asyncio.Lock belongs to one event loop
            self._lock, self._lock_loop = asyncio.Lock(), loop
        return self._lock

    async def run_tx(self, fn: Callable[[Connection], T]) -> T:
        """Run ``fn`` with a synchronous connection inside one transaction and return its result.

        On PostgreSQL (and in-memory SQLite) this is ``tx()`` + ``run_sync``. On a SQLite file the
        transaction runs inline on the event loop with the sqlite3 driver, in its turn on the
        ``tx()`` lock: a short indexed read-and-insert takes tens of microseconds there, while
        aiosqlite pays two thread hand-offs per cursor operation (about 15 per call creation).
        If another *process* holds SQLite's write lock, the inline attempt fails at once and
        the transaction is re-run in a worker thread that waits for the lock (busy_timeout),
        so the loop is never blocked on it. ``fn`` must only use the database (it may run twice).
        """
        if self._inline is None:
            async with self.tx() as conn:
                return await conn.run_sync(fn)
        lock = self._write_lock()
        assert lock is not None
        async with lock:
            try:
                with self._inline.begin() as conn:
                    return fn(conn)
            except OperationalError as exc:
                if not _is_busy(exc):
                    raise
            return await asyncio.get_running_loop().run_in_executor(None, self._run_waiting, fn)

    async def run_read(self, fn: Callable[[Connection], T]) -> T:
        """Run a read-only ``fn`` with a synchronous connection. On a SQLite file it runs inline on
        the loop (no lock needed: readers do not block under WAL), else through ``read()``."""
        if self._inline is None:
            async with self.read() as conn:
                return await conn.run_sync(fn)
        try:
            with self._inline.connect() as conn:
                return fn(conn)
        except OperationalError as exc:
            if not _is_busy(exc):
                raise
        return await asyncio.get_running_loop().run_in_executor(None, self._run_waiting, fn)

    def _run_waiting(self, fn: Callable[[Connection], T]) -> T:
        assert self._inline is not None
        with self._inline.connect() as conn:
            raw = conn.connection.dbapi_connection
            assert raw is not None
            _pragma(raw, "busy_timeout=10000")
            try:
                with conn.begin():
                    return fn(conn)
            finally:
                _pragma(raw, "busy_timeout=0")

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        async with self.engine.connect() as conn:
            yield conn

    async def migrate(self) -> None:
        """Bring the schema to the newest Alembic revision. On PostgreSQL the upgrade holds a
        transaction-level advisory lock: processes started together (``serve`` and a ``worker``
        on a fresh database) take turns instead of racing to create the same tables."""
        async with self.engine.begin() as conn:
            if self.engine.dialect.name == "postgresql":
                await conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
            await conn.run_sync(_upgrade)

    async def dispose(self) -> None:
        if self._inline is not None:
            self._inline.dispose()
        await self.engine.dispose()


MIGRATION_LOCK_KEY = 0x43574D49  # "CWMI": one lock for every Callwright schema upgrade


def _pragma(dbapi_conn: Any, pragma: str) -> None:
    cur = dbapi_conn.cursor()
    cur.execute(f"PRAGMA {pragma}")
    cur.close()


def _no_busy_wait(dbapi_conn: Any, _record: Any) -> None:
    _pragma(dbapi_conn, "busy_timeout=0")


def _is_busy(exc: OperationalError) -> bool:
    text = str(exc.orig).lower()
    return "locked" in text or "busy" in text


def alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    return cfg


def _upgrade(sync_conn: Connection) -> None:
    cfg = alembic_config()
    cfg.attributes["connection"] = sync_conn
    command.upgrade(cfg, "head")
