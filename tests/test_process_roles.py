"""Process roles: the worker command, what each role runs, where the dialer sends a call's stream,
and runtimes that keep their registries to themselves."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from callwright.demo import DEMO_FLOW
from callwright.domain.roles import UnknownRole, parse_roles
from callwright.runtime import VoiceRuntime
from callwright.services.carriers import CarrierRegistry
from callwright.services.dialer import Dialer
from callwright.services.live_calls import LiveCalls
from callwright.services.runners import MediaDirectory
from callwright.store.db import Database
from callwright.store.tables import calls, runners
from callwright.store.types import utcnow
from callwright.telephony.base import DialRequest, StatusHandler
from tests.e2e.conftest import VoiceServer, voice_settings
from tests.e2e.test_redis_broker import REDIS_URL, _redis_or_skip
from tests.support import (
    client_for,
    drop_postgres,
    free_port,
    new_key,
    postgres_url_or_skip,
    running_server,
)


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "callwright.cli", *args],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "200", **(env or {})},
        timeout=60,
    )


def test_roles_parse_any_subset_and_none() -> None:
    assert parse_roles("dial,media,jobs") == {"dial", "media", "jobs"}
    assert parse_roles(" Media , jobs ") == {"media", "jobs"}
    assert parse_roles("") == frozenset() and parse_roles("none") == frozenset()
    with pytest.raises(UnknownRole, match=r"'dailer'.*dial, media, jobs"):
        parse_roles("dailer,jobs")


def test_the_worker_refuses_unknown_roles_with_a_clear_message(tmp_path: Path) -> None:
    env = {"DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'w.db'}", "CALLWRIGHT_DATA_DIR": str(tmp_path)}
    bad = _cli("worker", "--roles", "dial,sip", env=env)
    assert bad.returncode == 2
    assert "unknown role 'sip'" in bad.stderr and "dial, media, jobs" in bad.stderr
    empty = _cli("worker", "--roles", "none", env=env)
    assert empty.returncode == 2 and "at least one role" in empty.stderr
    assert "--roles" in _cli("worker", "--help").stdout


class RecordingCarrier:
    """Takes the call and remembers where its stream was sent; nothing rings."""

    name = "recording"

    def __init__(self) -> None:
        self.requests: list[DialRequest] = []

    async def place_call(self, request: DialRequest, on_status: StatusHandler) -> str:
        self.requests.append(request)
        return f"rec-{len(self.requests)}"

    async def hang_up(self, provider_call_id: str) -> None:
        return None

    async def transfer(self, provider_call_id: str, to: str) -> None:
        return None


async def _add_runner(db: Database, runner_id: str, *, live: int, capacity: int, age_s: float = 0.0) -> None:
    at = utcnow() - timedelta(seconds=age_s)
    async with db.tx() as conn:
        await conn.execute(
            runners.insert().values(
                id=runner_id, started_at=at, heartbeat_at=at, roles=["media"],
                media_url=f"ws://{runner_id}/carrier/media-stream", media_capacity=capacity, media_live=live,
            )
        )


async def _status(db: Database, call_id: uuid.UUID) -> str:
    async with db.read() as conn:
        return str((await conn.execute(sa.select(calls.c.status).where(calls.c.id == call_id))).scalar())


def test_a_jobs_only_process_does_not_dial_and_the_dialer_waits_for_media_room(tmp_path: Path) -> None:
    settings = voice_settings(tmp_path, roles="jobs")
    with running_server(settings) as base, client_for(base, new_key(settings.database_url)) as api:
        agent = api.post("/v1/agents", json={"name": "A"}).json()
        call = api.post("/v1/calls", json={"agent_id": agent["id"], "to": "+15550100002"}).json()
        time.sleep(2.5)  # five reconciler intervals: a dial process would have dialed by now
        assert api.get(f"/v1/calls/{call['id']}").json()["status"] == "queued"

        async def _own_row() -> list[Any]:
            db = Database(settings.database_url)
            try:
                async with db.read() as conn:
                    return list((await conn.execute(sa.select(runners))).all())
            finally:
                await db.dispose()

        (row,) = asyncio.run(_own_row())
        assert row.roles == ["jobs"] and row.media_url is None
    call_id = uuid.UUID(call["id"])

    async def _dial_by_room() -> None:
        db = Database(settings.database_url)
        carrier = RecordingCarrier()
        # The agent's phone provider is the simulator; this registry answers to it with a recorder.
        registry = CarrierRegistry({"simulator": lambda: carrier})
        try:
            await _add_runner(db, "full", live=2, capacity=2)
            await _add_runner(db, "gone", live=0, capacity=10, age_s=60)
            dialer = Dialer(db, registry, MediaDirectory(db, "me"), "me", LiveCalls(registry))
            assert await dialer.dial(call_id) is False
            assert await _status(db, call_id) == "queued"  # not failed: the reconciler wakes it again
            assert carrier.requests == []

            await _add_runner(db, "busy", live=3, capacity=4)
            await _add_runner(db, "idle", live=1, capacity=4)
            assert await dialer.dial(call_id) is True
            assert await _status(db, call_id) == "dialing"
            assert carrier.requests[0].stream_url == "ws://idle/carrier/media-stream"
            async with db.read() as conn:
                counts = dict((await conn.execute(sa.select(runners.c.id, runners.c.media_live))).all())
            assert counts["idle"] == 2 and counts["busy"] == 3  # the reservation counts at once

            directory = MediaDirectory(db, own_runner_id="busy")
            own = await directory.reserve()
            assert own is not None and own.runner_id == "busy"  # its own endpoint first, while it has room
            taken = [await directory.reserve() for _ in range(2)]
            assert [slot.runner_id for slot in taken if slot] == ["idle", "idle"]
            assert await directory.reserve() is None  # everyone is full
            await directory.release(own)
            again = await directory.reserve()
            assert again is not None and again.runner_id == "busy"
        finally:
            await db.dispose()

    asyncio.run(_dial_by_room())


def test_two_runtimes_in_one_process_keep_their_live_calls_apart(tmp_path: Path) -> None:
    async def _run() -> None:
        dbs = [Database(f"sqlite+aiosqlite:///{tmp_path / f'r{i}.db'}") for i in range(2)]
        made = [
            VoiceRuntime(voice_settings(tmp_path / f"r{i}"), db, CarrierRegistry({}), roles=frozenset({"jobs"}))
            for i, db in enumerate(dbs)
        ]
        try:
            first, second = made
            assert first.live is not second.live and first.carriers is not second.carriers
            assert first.media.live is first.live and first.dialer.live is first.live
            heard: list[str] = []
            call_id = uuid.uuid4()
            first.live.register(call_id, heard.append)
            assert first.live.is_live_here(call_id) and not second.live.is_live_here(call_id)
            assert len(second.live) == 0

            class Row:
                id = call_id
                provider_call_id = None

            row: Any = Row()
            # The other runtime cannot reach the session; without a carrier call it reports so.
            assert await second.live.request_hangup(second.db, row) is False and heard == []
            assert await first.live.request_hangup(first.db, row) is True and heard == ["canceled"]
        finally:
            for runtime in made:
                await runtime.http.aclose()
            for db in dbs:
                await db.dispose()

    asyncio.run(_run())


Spec = tuple[list[str], dict[str, str], str, Path]
"""A ``callwright`` process: its arguments, environment, health URL and log file."""


@contextmanager
def _processes(*specs: Spec) -> Iterator[list[subprocess.Popen[bytes]]]:
    """Start every process at once, then wait until each answers its health URL (their start-ups
    overlap); stop them all on the way out."""
    procs: list[subprocess.Popen[bytes]] = []
    try:
        for args, env, _health, log in specs:
            with log.open("wb") as out:
                procs.append(subprocess.Popen([sys.executable, "-m", "callwright.cli", *args], env=env,
                                              stdout=out, stderr=out))
        deadline = time.monotonic() + 90
        for proc, (args, _env, health, log) in zip(procs, specs, strict=True):
            while True:
                if proc.poll() is not None:
                    raise AssertionError(f"{args[0]} exited with {proc.returncode}:\n{log.read_text()[-4000:]}")
                try:
                    if httpx.get(health, timeout=2).status_code < 500:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise AssertionError(f"{args[0]} did not start:\n{log.read_text()[-4000:]}")
                time.sleep(0.2)
        yield procs
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@contextmanager
def _process(args: list[str], env: dict[str, str], health: str, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """One process, started and healthy (tests/faults/test_campaign_kill.py starts its one by one)."""
    with _processes((args, env, health, log)) as (proc,):
        yield proc


def test_an_api_only_serve_and_a_worker_complete_a_call_on_postgres_and_redis(tmp_path: Path) -> None:
    """Two processes, one PostgreSQL, one Redis: the API stores the call and wakes a dialer
    through Redis; the worker dials it and runs its media session on its own port."""
    _redis_or_skip()
    db_url = postgres_url_or_skip()
    try:
        api_port, media_port = free_port(), free_port()
        env = {
            **os.environ,
            "DATABASE_URL": db_url,
            "CALLWRIGHT_BROKER": REDIS_URL,
            "CALLWRIGHT_SECRET_KEY": "shared-" + uuid.uuid4().hex,
            "CALLWRIGHT_DATA_DIR": str(tmp_path),
            "CALLWRIGHT_PUBLIC_URL": f"http://127.0.0.1:{api_port}",
            "CALLWRIGHT_BOOTSTRAP_KEY": "false",
            "CALLWRIGHT_LOG_JSON": "false",
            "CALLWRIGHT_SIMULATOR_RING_MS": "200",
            "CALLWRIGHT_RECONCILE_INTERVAL_S": "0.5",
            "CALLWRIGHT_ALLOW_PRIVATE_URLS": "true",
        }
        env.pop("CALLWRIGHT_PUBLIC_STREAM_URL", None)
        serve_env = {**env, "CALLWRIGHT_ROLES": "none"}
        # Making the key migrates the database first: processes starting together on a fresh one
        # would race to create its tables.
        key = new_key(db_url)
        with _processes(
            (["serve", "--port", str(api_port)], serve_env, f"http://127.0.0.1:{api_port}/healthz",
             tmp_path / "serve.log"),
            (["worker", "--port", str(media_port)], env, f"http://127.0.0.1:{media_port}/healthz",
             tmp_path / "worker.log"),
        ):
            health = httpx.get(f"http://127.0.0.1:{media_port}/healthz").json()
            assert health["roles"] == ["dial", "media", "jobs"]
            assert health["media_url"] == f"ws://127.0.0.1:{media_port}/carrier/media-stream"
            with client_for(f"http://127.0.0.1:{api_port}", key) as api:
                agent = api.post(
                    "/v1/agents", json={"name": "Appointments", "dialogue": {"engine": "flow", "flow": DEMO_FLOW}}
                )
                assert agent.status_code == 201, agent.text
                body = {
                    "agent_id": agent.json()["id"], "to": "+15550100001",
                    "simulated_callee": {"says": ["yes"], "dtmf": {"verify": "4567"}},
                }
                call = api.post("/v1/calls", json=body)
                assert call.status_code == 201, call.text
                ended = VoiceServer("", db_url, api).wait_for_end(call.json()["id"], timeout_s=90)
            assert (ended["status"], ended["results"].get("confirmed")) == ("completed", True), ended
    finally:
        drop_postgres(db_url)
