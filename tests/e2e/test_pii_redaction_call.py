"""An agent with ``redact_pii``: a card number keyed on the phone never reaches the stored
record or the webhooks."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from tests.e2e.conftest import VoiceServer
from tests.fakes.webhook_receiver import webhook_receiver

CARD = "4111111111111111"
FLOW = {
    "start": "card",
    "nodes": {
        "card": {"ask": "Please key in your card number.", "expect": "digits", "length": 16, "save_as": "card",
                 "next": "bye"},
        "bye": {"say": "Thank you.", "end": "completed"},
    },
}


@pytest.fixture(scope="module")
def outcome(voice_server: VoiceServer) -> Iterator[dict[str, Any]]:
    with webhook_receiver() as receiver:
        r = voice_server.api.post("/v1/agents", json={
            "name": "Payments", "redact_pii": True, "dialogue": {"engine": "flow", "flow": FLOW},
        })
        assert r.status_code == 201, r.text
        agent = r.json()
        r = voice_server.api.post(f"/v1/agents/{agent['id']}/webhooks", json={"url": receiver.url})
        assert r.status_code == 201, r.text
        r = voice_server.api.post("/v1/calls", json={
            "agent_id": agent["id"], "to": "+15550100041", "simulated_callee": {"dtmf": {"card": CARD}},
        })
        assert r.status_code == 201, r.text
        call = voice_server.wait_for_end(r.json()["id"])
        receiver.wait_for(1, "call.ended")
        mine = [x for x in receiver.events() if x.json()["data"]["id"] == call["id"]]
        yield {"call": call, "webhooks": mine}


def test_the_keyed_card_number_is_redacted_in_the_stored_transcript(outcome: dict[str, Any]) -> None:
    user_turns = [t["text"] for t in outcome["call"]["transcript"] if t["role"] == "user"]
    assert user_turns, outcome["call"]
    assert all(CARD not in text for text in user_turns)
    assert any("1111" in text for text in user_turns)  # the last four stay, as on a receipt


def test_the_collected_result_is_redacted(outcome: dict[str, Any]) -> None:
    assert CARD not in str(outcome["call"]["results"])


def test_no_webhook_carries_the_card_number(outcome: dict[str, Any]) -> None:
    assert outcome["webhooks"]
    assert all(CARD.encode() not in x.body for x in outcome["webhooks"])
