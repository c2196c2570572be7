"""A real server with the voice runtime on: calls are dialed through the simulated carrier,
whose callee talks to the server's Media Streams endpoint over a real WebSocket."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from tests.support import client_for, free_port, new_key, running_server

from callwright.demo import DEMO_FLOW
from callwright.settings import Settings

TERMINAL = {"completed", "no_answer", "busy", "failed", "voicemail", "canceled"}


class VoiceServer:
    def __init__(self, base_url: str, db_url: str, client: httpx.Client) -> None:
        self.base_url = base_url
        self.db_url = db_url
        self.api = client

    def wait_until(
        self, call_id: str, done: Callable[[dict[str, Any]], bool], what: str, timeout_s: float = 120
    ) -> dict[str, Any]:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            call: dict[str, Any] = self.api.get(f"/v1/calls/{call_id}").json()
            if done(call):
                return call
            time.sleep(0.1)
        raise AssertionError(f"call {call_id}: {what} did not happen within {timeout_s} s")

    def wait_for_end(self, call_id: str, timeout_s: float = 120) -> dict[str, Any]:
        return self.wait_until(call_id, lambda c: c["status"] in TERMINAL and bool(c["ended_at"]), "the end", timeout_s)


def voice_settings(tmp: Any, **overrides: Any) -> Settings:
    port = free_port()
    values: dict[str, Any] = dict(
        database_url=f"sqlite+aiosqlite:///{tmp / 'voice.db'}",
        data_dir=tmp,
        port=port,
        bootstrap_key=False,
        log_json=False,
        simulator_ring_ms=200,
        simulator_no_answer_after_ms=1500,
        reconcile_interval_s=0.5,
        allow_private_urls=True,
        jobs_poll_interval_s=0.2,
    )
    values.update(overrides)
    return Settings(**values)


@pytest.fixture(scope="session")
def voice_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[VoiceServer]:
    settings = voice_settings(tmp_path_factory.mktemp("voice"))
    with running_server(settings) as base:
        with client_for(base, new_key(settings.database_url)) as client:
            yield VoiceServer(base, settings.database_url, client)


@pytest.fixture(scope="session")
def flow_agent(voice_server: VoiceServer) -> dict[str, Any]:
    r = voice_server.api.post(
        "/v1/agents",
        json={
            "name": "Appointments",
            "dialogue": {"engine": "flow", "flow": DEMO_FLOW},
            "voicemail": {
                "action": "leave_message",
                "message": "Hi {{ first_name||there }}, please call Riverside Dental.",
            },
            "end_call_after_silence_s": 6,
        },
    )
    assert r.status_code == 201, r.text
    return dict(r.json())
