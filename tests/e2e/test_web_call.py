"""Browser calls end to end: a real server, ``POST /v1/web-calls``, and a WebSocket client that
speaks the browser protocol with real synthesized speech (tests/e2e/web_caller.py). The call
runs the same session as a phone call and is stored with ``medium: web``."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import websockets
from tests.context_endpoint import ContextEndpoint
from tests.e2e import web_caller
from tests.e2e.conftest import VoiceServer
from tests.support import set_call_columns

FLOW: dict[str, Any] = {
    "start": "greet",
    "nodes": {
        "greet": {"say": "Hello {{ first_name||there }}, this is Riverside Dental.", "next": "confirm"},
        "confirm": {"ask": "Can you make your appointment on Monday?", "expect": "yes_no",
                    "save_as": "confirmed", "next": "day"},
        "day": {"ask": "Which day suits you for a check-up: Tuesday, Wednesday or Thursday?",
                "expect": {"choice": ["tuesday", "wednesday", "thursday"]}, "save_as": "checkup_day", "next": "bye"},
        "bye": {"say": "Thank you. Goodbye.", "end": "completed"},
    },
}


def _agent(server: VoiceServer, name: str, **extra: Any) -> dict[str, Any]:
    r = server.api.post("/v1/agents", json={"name": name, "dialogue": {"engine": "flow", "flow": FLOW}, **extra})
    assert r.status_code == 201, r.text
    return dict(r.json())


def _web_call(server: VoiceServer, agent_id: str, **body: Any) -> dict[str, Any]:
    r = server.api.post("/v1/web-calls", json={"agent_id": agent_id, **body})
    assert r.status_code == 201, r.text
    return dict(r.json())


def test_a_browser_caller_talks_to_a_flow_agent_and_the_call_is_stored_as_web(voice_server: VoiceServer) -> None:
    with ContextEndpoint() as context:
        context.reply({"first_name": "Dana"})
        agent = _agent(voice_server, "Web flow", dynamic_context={"enabled": True, "url": context.url})
        ticket = _web_call(voice_server, agent["id"], external_id="cust-42", metadata={"page": "/book"})
        answers = [web_caller.speak("Yes, I can."), web_caller.speak("Tuesday, please.")]
        log = asyncio.run(web_caller.call(ticket["websocket_url"], ticket["call_id"], ticket["access_token"], answers))
        call = voice_server.wait_for_end(ticket["call_id"])
        assert len(context.requests) == 1
        seen = context.requests[0]
    assert log.ended and log.agent_audio_bytes > 32000 * 3, log
    assert call["status"] == "completed", call
    assert call["medium"] == "web" and call["direction"] == "inbound" and call["call_source"] == "web"
    assert call["metadata"] == {"page": "/book"}
    assert call["results"]["confirmed"] is True
    assert call["results"]["checkup_day"] == "tuesday"
    said = " ".join(t["text"].lower() for t in call["transcript"] if t["role"] == "user")
    assert "yes" in said and "tuesday" in said, call["transcript"]
    greeting = next(t["text"] for t in call["transcript"] if t["role"] == "agent")
    assert greeting.startswith("Hello Dana")
    assert seen.headers["x-medium"] == "web"
    assert seen.headers["x-external-id"] == "cust-42"
    assert seen.json()["external_id"] == "cust-42"
    assert call["recording_url"] is not None


def test_a_stream_with_the_wrong_token_is_refused_and_the_call_keeps_waiting(voice_server: VoiceServer) -> None:
    agent = _agent(voice_server, "Web wrong token")
    ticket = _web_call(voice_server, agent["id"])

    async def connect() -> int | None:
        async with websockets.connect(ticket["websocket_url"]) as ws:
            await ws.send(json.dumps({"type": "start", "call_id": ticket["call_id"], "token": "not-the-token"}))
            with pytest.raises(websockets.ConnectionClosed):
                await asyncio.wait_for(ws.recv(), 10)
            return ws.close_code

    assert asyncio.run(connect()) == 1008
    assert voice_server.api.get(f"/v1/calls/{ticket['call_id']}").json()["status"] == "ringing"


def test_an_expired_token_is_refused_and_the_call_ends_not_connected(voice_server: VoiceServer) -> None:
    agent = _agent(voice_server, "Web expired")
    ticket = _web_call(voice_server, agent["id"])
    set_call_columns(
        voice_server.db_url, ticket["call_id"], stream_token_expires_at=datetime.now(UTC) - timedelta(seconds=1)
    )

    async def connect() -> int | None:
        async with websockets.connect(ticket["websocket_url"]) as ws:
            await ws.send(json.dumps({"type": "start", "call_id": ticket["call_id"], "token": ticket["access_token"]}))
            with pytest.raises(websockets.ConnectionClosed):
                await asyncio.wait_for(ws.recv(), 10)
            return ws.close_code

    assert asyncio.run(connect()) == 1008
    call = voice_server.api.get(f"/v1/calls/{ticket['call_id']}").json()
    assert call["status"] == "failed" and call["end_reason"] == "browser_not_connected", call


def test_hanging_up_from_the_browser_ends_the_call(voice_server: VoiceServer) -> None:
    agent = _agent(voice_server, "Web hang-up")
    ticket = _web_call(voice_server, agent["id"])

    async def hang_up_after_first_audio() -> None:
        async with websockets.connect(ticket["websocket_url"]) as ws:
            await ws.send(json.dumps({"type": "start", "call_id": ticket["call_id"], "token": ticket["access_token"]}))
            while not isinstance(await asyncio.wait_for(ws.recv(), 15), bytes):
                pass
            await ws.send(json.dumps({"type": "hangup"}))
            with pytest.raises(websockets.ConnectionClosed):
                while True:
                    await asyncio.wait_for(ws.recv(), 15)

    asyncio.run(hang_up_after_first_audio())
    call = voice_server.wait_for_end(ticket["call_id"], timeout_s=30)
    assert call["status"] == "completed" and call["end_reason"] == "user_hangup", call
    assert call["medium"] == "web"


def test_garbage_on_the_stream_closes_it_cleanly(voice_server: VoiceServer) -> None:
    agent = _agent(voice_server, "Web garbage")
    ticket = _web_call(voice_server, agent["id"])

    async def send_garbage() -> int | None:
        async with websockets.connect(ticket["websocket_url"]) as ws:
            await ws.send(json.dumps({"type": "start", "call_id": ticket["call_id"], "token": ticket["access_token"]}))
            await ws.send("{not json")
            with pytest.raises(websockets.ConnectionClosed):
                while True:
                    await asyncio.wait_for(ws.recv(), 15)
            return ws.close_code

    assert asyncio.run(send_garbage()) == 1002
    call = voice_server.wait_for_end(ticket["call_id"], timeout_s=30)
    assert call["status"] == "failed", call
    assert voice_server.api.get("/healthz").status_code == 200
