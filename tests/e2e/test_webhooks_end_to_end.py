"""A simulated call with a webhook target: call.started, call.ended and call.analyzed arrive
signed (Standard Webhooks), in seed 003's shape, with working signed attachment links."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from standardwebhooks.webhooks import Webhook
from tests.e2e.conftest import VoiceServer
from tests.fakes.webhook_receiver import WebhookReceiver, webhook_receiver

SEED_003_DATA_FIELDS = {
    "id", "delivery_status", "direction", "type", "mode", "body", "translated_body", "language",
    "translation_language", "from", "to", "created_at", "updated_at", "conversation_id", "contact_id", "channel_id",
    "campaign_id", "campaign_contact_id", "sequence_id", "step_contact_id", "step_id", "user_id", "metadata",
    "attachments",
}
SEED_003_METADATA_FIELDS = {
    "type", "duration", "placeholders_data", "analysis", "agent_id", "agent_version_id", "llm_id", "llm_version_id",
}


@pytest.fixture(scope="module")
def receiver() -> Iterator[WebhookReceiver]:
    with webhook_receiver() as r:
        yield r


@pytest.fixture(scope="module")
def delivered(voice_server: VoiceServer, flow_agent: dict[str, Any], receiver: WebhookReceiver) -> dict[str, Any]:
    r = voice_server.api.post(
        f"/v1/agents/{flow_agent['id']}/webhooks",
        json={"url": receiver.url, "include_transcript": True, "include_recording": True},
    )
    assert r.status_code == 201, r.text
    target = r.json()
    r = voice_server.api.post(
        "/v1/calls",
        json={
            "agent_id": flow_agent["id"], "to": "+15550100021",
            "variables": {"first_name": "Ada"}, "metadata": {"crm_id": "42"},
            "simulated_callee": {"says": ["yes"], "dtmf": {"verify": "4567"}},
        },
    )
    assert r.status_code == 201, r.text
    call_id = r.json()["id"]
    voice_server.wait_for_end(call_id)
    receiver.wait_for(1, "call.analyzed", timeout_s=30)
    mine = [x for x in receiver.events() if x.json()["data"]["id"] == call_id]
    return {"target": target, "call_id": call_id, "received": mine}


def by_event(delivered: dict[str, Any], event: str) -> Any:
    return next(x for x in delivered["received"] if x.json()["event"] == event)


def test_the_three_events_arrive_in_order(delivered: dict[str, Any]) -> None:
    assert [x.json()["event"] for x in delivered["received"]] == ["call.started", "call.ended", "call.analyzed"]


def test_every_delivery_is_signed_with_the_targets_secret(delivered: dict[str, Any]) -> None:
    verifier = Webhook(delivered["target"]["secret"])
    for x in delivered["received"]:
        verifier.verify(x.body, x.headers)
        assert x.headers["webhook-id"] == x.json()["request_id"]


def test_the_envelope_has_seed_003s_fields(delivered: dict[str, Any]) -> None:
    body = by_event(delivered, "call.ended").json()
    assert set(body) >= {"event", "api_version", "created_at", "request_id", "data"}
    assert set(body["data"]) >= SEED_003_DATA_FIELDS | {"trace_id", "call_source", "results", "retry"}
    assert set(body["data"]["metadata"]) >= SEED_003_METADATA_FIELDS | {"request_metadata"}
    assert body["data"]["delivery_status"] == "call_completed.agent_hangup"
    assert body["data"]["direction"] == "OUTBOUND"
    assert body["data"]["metadata"]["request_metadata"] == {"crm_id": "42"}
    assert body["data"]["results"]["confirmed"] is True


def test_call_ended_carries_the_transcript_as_body(delivered: dict[str, Any]) -> None:
    body = by_event(delivered, "call.ended").json()["data"]["body"]
    assert body.startswith("Agent: ")
    assert "\nUser: yes" in body.replace("User: Yes", "User: yes")


def test_call_started_has_no_body_and_is_in_progress(delivered: dict[str, Any]) -> None:
    data = by_event(delivered, "call.started").json()["data"]
    assert data["body"] is None
    assert data["delivery_status"] == "call_in_progress"


def test_call_analyzed_carries_the_analysis(delivered: dict[str, Any]) -> None:
    analysis = by_event(delivered, "call.analyzed").json()["data"]["metadata"]["analysis"]
    assert analysis["in_voicemail"] is False
    assert analysis["call_completion_rating"] in {"Complete", "Partial", "Incomplete"}
    assert analysis["user_sentiment"] in {"Positive", "Neutral", "Negative"}


def test_attachment_links_work_without_an_api_key_and_expire_when_tampered(delivered: dict[str, Any]) -> None:
    files = by_event(delivered, "call.analyzed").json()["data"]["attachments"]
    types = [f["content_type"] for f in files]
    assert types == ["audio/x-wav", "application/json", "application/json"]
    for f in files:
        r = httpx.get(f["url"])
        assert r.status_code == 200, (f["url"], r.text)
    assert httpx.get(files[0]["url"]).content[:4] == b"RIFF"
    tampered = files[1]["url"].replace("signature=", "signature=x")
    assert httpx.get(tampered).status_code == 403


def test_the_delivery_log_shows_each_success(voice_server: VoiceServer, delivered: dict[str, Any]) -> None:
    r = voice_server.api.get("/v1/webhook-deliveries", params={"call_id": delivered["call_id"]})
    assert r.status_code == 200, r.text
    rows = r.json()["data"]
    assert sorted(d["event"] for d in rows) == ["call.analyzed", "call.ended", "call.started"]
    assert all(d["status"] == "succeeded" and d["attempts"] == 1 for d in rows)


def test_the_secret_is_shown_once_then_masked(voice_server: VoiceServer, delivered: dict[str, Any]) -> None:
    target = delivered["target"]
    assert target["secret"].startswith("whsec_")
    listed = voice_server.api.get(f"/v1/agents/{target['agent_id']}/webhooks").json()["data"]
    assert [t["secret"] for t in listed if t["id"] == target["id"]] == ["****" + target["secret"][-4:]]
