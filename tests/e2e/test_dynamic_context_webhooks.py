"""The issue's whole path in one call: dynamic context fetched as the call starts, its
variables in the spoken greeting, and the three webhooks signed in seed 003's shape."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from standardwebhooks.webhooks import Webhook
from tests.context_endpoint import ContextEndpoint
from tests.e2e.conftest import VoiceServer
from tests.fakes.webhook_receiver import webhook_receiver

from callwright.demo import DEMO_FLOW


@pytest.fixture(scope="module")
def outcome(voice_server: VoiceServer) -> Iterator[dict[str, Any]]:
    with ContextEndpoint() as context, webhook_receiver() as receiver:
        context.reply({"first_name": "Grace", "account": {"tier": "gold"}})
        flow = {**DEMO_FLOW, "nodes": {**DEMO_FLOW["nodes"]}}
        greet = dict(flow["nodes"][flow["start"]])
        greet["say"] = "Hello {{ first_name }}, a {{ account.tier }} member."
        flow["nodes"][flow["start"]] = greet
        r = voice_server.api.post("/v1/agents", json={
            "name": "Context",
            "dialogue": {"engine": "flow", "flow": flow},
            "dynamic_context": {
                "enabled": True, "url": context.url, "auth": {"type": "bearer", "token": "tok-12345678"},
            },
        })
        assert r.status_code == 201, r.text
        agent = r.json()
        r = voice_server.api.post(f"/v1/agents/{agent['id']}/webhooks", json={"url": receiver.url})
        assert r.status_code == 201, r.text
        secret = r.json()["secret"]
        r = voice_server.api.post("/v1/calls", json={
            "agent_id": agent["id"], "to": "+15550100031",
            "simulated_callee": {"says": ["yes"], "dtmf": {"verify": "4567"}},
        })
        assert r.status_code == 201, r.text
        call = voice_server.wait_for_end(r.json()["id"])
        receiver.wait_for(1, "call.analyzed")
        yield {"call": call, "received": receiver.events(), "secret": secret, "context": context.requests}


def test_the_greeting_is_rendered_with_the_fetched_variables(outcome: dict[str, Any]) -> None:
    first_agent_turn = next(t["text"] for t in outcome["call"]["transcript"] if t["role"] == "agent")
    assert "Hello Grace, a gold member." in first_agent_turn


def test_the_context_endpoint_is_asked_once_with_the_calls_fields(outcome: dict[str, Any]) -> None:
    assert len(outcome["context"]) == 1
    seen = outcome["context"][0]
    assert seen.json()["contact_number"] == "+15550100031"
    assert seen.headers["authorization"] == "Bearer tok-12345678"
    assert seen.headers["x-room-sid"] == outcome["call"]["id"]


def test_the_conversation_records_the_fetch(outcome: dict[str, Any]) -> None:
    record = outcome["call"]["dynamic_context"]
    assert record["ok"] is True and record["status_code"] == 200


def test_three_signed_webhooks_in_seed_003_shape(outcome: dict[str, Any]) -> None:
    mine = [x for x in outcome["received"] if x.json()["data"]["id"] == outcome["call"]["id"]]
    assert [x.json()["event"] for x in mine] == ["call.started", "call.ended", "call.analyzed"]
    for x in mine:
        Webhook(outcome["secret"]).verify(x.body, x.headers)
    ended = mine[1].json()["data"]
    assert ended["metadata"]["placeholders_data"]["first_name"] == "Grace"
    assert ended["delivery_status"] == "call_completed.agent_hangup"
