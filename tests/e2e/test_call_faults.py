"""Faults end calls in a clear terminal state; nothing stays live forever."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import pytest
import websockets
from tests.e2e.conftest import VoiceServer, voice_settings
from tests.support import client_for, new_key, running_server, set_call_columns

from callwright.services.carriers import CarrierRegistry
from callwright.telephony.base import Carrier, DialRequest, StatusHandler


class ScriptedCarrier:
    """A carrier that answers, then does one bad thing on the media stream."""

    name = "simulator"

    def __init__(self, mode: str) -> None:
        self.mode = mode
        self._tasks: set[asyncio.Task[None]] = set()

    async def place_call(self, request: DialRequest, on_status: StatusHandler) -> str:
        task = asyncio.create_task(self._run(request, on_status))
        self._tasks.add(task)
        return "SCRIPTED" + uuid.uuid4().hex

    async def hang_up(self, provider_call_id: str) -> None:
        return None

    async def _run(self, request: DialRequest, on_status: StatusHandler) -> None:
        from callwright.telephony.base import StatusEvent

        await on_status(StatusEvent(request.call_id, "answered", answered_by="human"))
        if self.mode != "never_connects":
            async with websockets.connect(request.stream_url) as ws:
                await ws.send(json.dumps({"event": "connected", "protocol": "Call", "version": "1.0.0"}))
                await ws.send(
                    json.dumps(
                        {
                            "event": "start",
                            "sequenceNumber": "1",
                            "streamSid": "MZ1",
                            "start": {
                                "streamSid": "MZ1",
                                "accountSid": "AC1",
                                "callSid": "CA1",
                                "tracks": ["inbound"],
                                "customParameters": request.stream_parameters,
                                "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
                            },
                        }
                    )
                )
                await asyncio.sleep(0.5)
                if self.mode == "garbage":
                    await ws.send("this is not json")
                    await asyncio.sleep(1.0)
                # "drops": close without a stop message
        await on_status(StatusEvent(request.call_id, "completed"))


def _server_with(carrier: Carrier, tmp: Any) -> tuple[Any, Any]:
    settings = voice_settings(tmp)
    registry = CarrierRegistry({"simulator": lambda: carrier})
    return settings, registry


@pytest.mark.parametrize(
    ("mode", "reason"),
    [
        ("garbage", "stream_error"),
        ("drops", "stream_error"),
        ("never_connects", "stream_not_connected"),
    ],
)
def test_a_broken_media_stream_ends_the_call_as_failed(mode: str, reason: str, tmp_path: Any) -> None:
    settings, registry = _server_with(ScriptedCarrier(mode), tmp_path)
    with running_server(settings, carriers=registry) as base, client_for(base, new_key(settings.database_url)) as api:
        agent = api.post("/v1/agents", json={"name": "A"}).json()
        call = api.post("/v1/calls", json={"agent_id": agent["id"], "to": "+14155552671"}).json()
        server = VoiceServer(base, settings.database_url, api)
        ended = server.wait_for_end(call["id"], timeout_s=30)
    assert ended["status"] == "failed"
    assert ended["end_reason"] == reason
    assert ended["error"]


def test_a_live_call_can_be_canceled(voice_server: VoiceServer, flow_agent: dict[str, Any]) -> None:
    call = voice_server.api.post("/v1/calls", json={"agent_id": flow_agent["id"], "to": "+15550100007"}).json()
    voice_server.wait_until(call["id"], lambda c: c["status"] == "in_progress", "answering", timeout_s=20)
    voice_server.api.post(f"/v1/calls/{call['id']}/cancel")
    ended = voice_server.wait_for_end(call["id"], timeout_s=20)
    assert ended["status"] == "canceled"


def test_calls_left_live_by_a_dead_process_are_closed_as_interrupted(tmp_path: Any) -> None:
    settings = voice_settings(tmp_path)
    key = new_key(settings.database_url)
    with running_server(settings) as base, client_for(base, key) as api:
        agent = api.post("/v1/agents", json={"name": "A"}).json()
        call = api.post(
            "/v1/calls", json={"agent_id": agent["id"], "to": "+14155552671", "scheduled_for": "2099-01-01T00:00:00Z"}
        ).json()

    set_call_columns(settings.database_url, call["id"], status="in_progress", runner_id="a-process-that-died")
    with running_server(settings) as base, client_for(base, key) as api:
        ended = api.get(f"/v1/calls/{call['id']}").json()
    assert (ended["status"], ended["end_reason"]) == ("failed", "interrupted")


def test_a_scheduled_call_is_dialed_when_it_falls_due(voice_server: VoiceServer, flow_agent: dict[str, Any]) -> None:
    from datetime import UTC, datetime, timedelta

    due = (datetime.now(UTC) + timedelta(seconds=2)).isoformat().replace("+00:00", "Z")
    call = voice_server.api.post(
        "/v1/calls", json={"agent_id": flow_agent["id"], "to": "+15550100002", "scheduled_for": due}
    ).json()
    assert call["status"] == "scheduled"
    ended = voice_server.wait_for_end(call["id"], timeout_s=30)
    assert ended["status"] == "busy" and ended["started_at"] >= due


def test_a_cancel_recorded_by_another_process_hangs_up_the_live_session(
    voice_server: VoiceServer, flow_agent: dict[str, Any]
) -> None:
    call = voice_server.api.post("/v1/calls", json={"agent_id": flow_agent["id"], "to": "+15550100007"}).json()
    voice_server.wait_until(call["id"], lambda c: bool(c["transcript"]), "the greeting", timeout_s=20)
    set_call_columns(voice_server.db_url, call["id"], status="canceled", end_reason="canceled")
    # The session notices, hangs up and stores its recording; then the record is read.
    ended = voice_server.wait_until(call["id"], lambda c: bool(c["recording_url"]), "the hang-up", timeout_s=20)
    assert ended["status"] == "canceled"
    assert ended["transcript"] and ended["transcript"][0]["role"] == "agent"
    assert ended["recording_url"]
