"""With CALLWRIGHT_BROKER=redis://..., wake-ups travel through Redis and calls are still dialed."""

from __future__ import annotations

import os
import socket
from typing import Any

import pytest
from tests.e2e.conftest import VoiceServer, voice_settings
from tests.support import client_for, new_key, running_server

REDIS_URL = os.environ.get("CALLWRIGHT_TEST_REDIS", "redis://127.0.0.1:6379")


def _redis_or_skip() -> None:
    host, port = REDIS_URL.removeprefix("redis://").split("/")[0].split(":")
    try:
        socket.create_connection((host, int(port)), timeout=2).close()
    except OSError as exc:
        reason = f"Redis at {REDIS_URL} is unreachable ({exc!r}); Redis broker test NOT run"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(reason + " — required under CI=true")
        pytest.skip("!!! " + reason)


def test_a_call_is_dialed_through_the_redis_broker(tmp_path: Any) -> None:
    _redis_or_skip()
    settings = voice_settings(tmp_path, broker=REDIS_URL)
    with running_server(settings) as base, client_for(base, new_key(settings.database_url)) as api:
        agent = api.post("/v1/agents", json={"name": "A"}).json()
        call = api.post("/v1/calls", json={"agent_id": agent["id"], "to": "+15550100002"}).json()
        ended = VoiceServer(base, settings.database_url, api).wait_for_end(call["id"], timeout_s=30)
    assert ended["status"] == "busy"
    assert ended["started_at"] is not None
