"""The drill: a receiver down, the server killed with SIGKILL right after a call ends, then both
come back: every event arrives, under its original ``webhook-id``.

Real processes, because only a real SIGKILL proves nothing needed an orderly shutdown: the events
outbox and the delivery rows are all that survive, and the new process must finish from them.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from standardwebhooks.webhooks import Webhook
from tests.fakes.webhook_receiver import WebhookReceiver
from tests.support import free_port

from callwright.demo import DEMO_AGENT, DEMO_CALL

pytestmark = pytest.mark.slow

EVENTS = ("call.started", "call.ended", "call.analyzed")
TERMINAL = {"completed", "failed", "no_answer", "busy", "voicemail", "canceled"}
CALLWRIGHT = [str(Path(sys.executable).parent / "callwright")]
# Retries every 0.5 s, 60 times: the call lasts ~10 s with the receiver down, and eight retries
# (4 s) would exhaust call.started's schedule (status ``failed``) before the kill.
RETRY_SCHEDULE = "[" + ",".join(["0.5"] * 60) + "]"


def _env(tmp: Path, port: int) -> dict[str, str]:
    return dict(
        os.environ, DATABASE_URL=f"sqlite+aiosqlite:///{tmp / 'cw.db'}", CALLWRIGHT_DATA_DIR=str(tmp),
        CALLWRIGHT_PORT=str(port), CALLWRIGHT_BOOTSTRAP_KEY="false", CALLWRIGHT_ALLOW_PRIVATE_URLS="true",
        CALLWRIGHT_JOBS_POLL_INTERVAL_S="0.2", CALLWRIGHT_WEBHOOK_TIMEOUT_S="2",
        CALLWRIGHT_WEBHOOK_RETRY_SCHEDULE_S=RETRY_SCHEDULE,
        CALLWRIGHT_SIMULATOR_RING_MS="200", CALLWRIGHT_LOG_JSON="false", CALLWRIGHT_RECONCILE_INTERVAL_S="0.5",
        PYTHONUNBUFFERED="1",
    )


class Server:
    """``callwright serve`` as a child process, its output in a log file for failure messages."""

    def __init__(self, tmp: Path, env: dict[str, str], port: int, name: str) -> None:
        self.log_path = tmp / f"{name}.log"
        self.base = f"http://127.0.0.1:{port}"
        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen(
                [*CALLWRIGHT, "serve", "--host", "127.0.0.1", "--port", str(port)], env=env, cwd=tmp, stdout=log,
                stderr=subprocess.STDOUT,
            )

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]

    def wait_healthy(self, timeout_s: float = 60.0) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"server exited with {self.proc.returncode}:\n{self.log()}")
            try:
                if httpx.get(f"{self.base}/healthz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"server not healthy within {timeout_s} s:\n{self.log()}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=15)


@pytest.fixture
def servers() -> Iterator[list[Server]]:
    started: list[Server] = []
    yield started
    for server in started:
        server.stop()


def _rows(db: Path, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    with sqlite3.connect(db, timeout=30) as conn:
        return list(conn.execute(sql, params).fetchall())


def _uuid(value: Any) -> str:
    """SQLAlchemy's Uuid type stores 32 hex digits on SQLite; compare in the canonical form."""
    import uuid

    return str(uuid.UUID(value.hex() if isinstance(value, bytes) else str(value)))


def test_sigkill_after_call_end_with_the_receiver_down_delivers_every_event_with_its_original_id(
    tmp_path: Path, servers: list[Server]
) -> None:
    port = free_port()
    env = _env(tmp_path, port)
    made = subprocess.run([*CALLWRIGHT, "keys", "create", "--org", "drill"], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert made.returncode == 0, f"keys create failed:\n{made.stdout}\n{made.stderr}"
    key = made.stdout.strip().splitlines()[-1].strip()

    receiver = WebhookReceiver()
    receiver.start()  # once, for a port; it comes back on the same one
    receiver.stop()

    first = Server(tmp_path, env, port, "serve-1")
    servers.append(first)
    first.wait_healthy()
    api = httpx.Client(base_url=first.base, headers={"Authorization": f"Bearer {key}"}, timeout=30)
    try:
        agent = api.post("/v1/agents", json=DEMO_AGENT)
        assert agent.status_code == 201, agent.text
        agent_id = agent.json()["id"]
        target = api.post(f"/v1/agents/{agent_id}/webhooks", json={"url": receiver.url, "events": list(EVENTS)})
        assert target.status_code == 201, target.text
        secret = target.json()["secret"]
        call = api.post("/v1/calls", json={
            "agent_id": agent_id, "to": "+15550100001", "variables": DEMO_CALL["variables"],
            "simulated_callee": {"says": ["yes"], "dtmf": {"verify": "4567"}},
        })
        assert call.status_code in (200, 201), call.text
        call_id = call.json()["id"]

        deadline, status = time.monotonic() + 60, ""
        while time.monotonic() < deadline:
            status = api.get(f"/v1/calls/{call_id}").json()["status"]
            if status in TERMINAL:
                break
            time.sleep(0.05)
        assert status in TERMINAL, f"call still {status!r} after 60 s:\n{first.log()}"
    finally:
        api.close()
    os.kill(first.proc.pid, signal.SIGKILL)
    first.proc.wait(timeout=15)
    assert status == "completed", f"the simulated call should complete, got {status!r}:\n{first.log()}"

    db = tmp_path / "cw.db"
    call_hex = call_id.replace("-", "")
    before_events = {
        typ: _uuid(eid) for eid, typ in _rows(
            db, "SELECT id, type FROM events WHERE (call_id = ? OR call_id = ?) AND type IN (?, ?, ?)",
            call_hex, call_id, *EVENTS,
        )
    }
    before_deliveries = {_uuid(eid): (event, status) for eid, event, status in _rows(
        db, "SELECT event_id, event, status FROM webhook_deliveries")}
    assert {"call.started", "call.ended"} <= set(before_events), (
        f"the call's events were not committed before the kill: {before_events}")
    assert not any(s == "succeeded" for _, s in before_deliveries.values()), (
        f"nothing can have been delivered while the receiver was down: {before_deliveries}")
    for event_id, (event, _) in before_deliveries.items():
        assert before_events.get(event) == event_id, f"delivery of {event} is not for the call's event row"

    receiver.start()
    try:
        second = Server(tmp_path, env, port, "serve-2")
        servers.append(second)
        second.wait_healthy()
        try:
            got = {r.json()["event"]: r for r in receiver.wait_for(len(EVENTS), timeout_s=45)}
        except AssertionError as exc:
            rows = _rows(db, "SELECT event, status, attempts, last_error FROM webhook_deliveries")
            raise AssertionError(f"{exc}; received {[r.json()['event'] for r in receiver.events()]}; "
                                 f"deliveries {rows}\n{second.log()}") from None
        after_events = {typ: _uuid(eid) for eid, typ in _rows(
            db, "SELECT id, type FROM events WHERE (call_id = ? OR call_id = ?) AND type IN (?, ?, ?)",
            call_hex, call_id, *EVENTS)}
    finally:
        receiver.stop()

    assert set(got) == set(EVENTS), f"missing events: {set(EVENTS) - set(got)}"
    for event, request in got.items():
        webhook_id = request.headers["webhook-id"]
        Webhook(secret).verify(request.body, request.headers)  # raises on a bad signature
        assert webhook_id == request.json()["request_id"], f"{event}: webhook-id differs from request_id"
        assert webhook_id == after_events[event], f"{event}: webhook-id {webhook_id} is not its event's id"
        if event in before_events:
            assert webhook_id == before_events[event], (
                f"{event}: arrived as {webhook_id}, but the event recorded before the kill was "
                f"{before_events[event]}")
    ids = [r.headers["webhook-id"] for r in receiver.events()]
    assert set(ids) == set(after_events.values()), f"unexpected webhook ids: {set(ids) - set(after_events.values())}"
