"""A campaign over the simulated carrier: callees with mixed behaviours, from CSV to a completed
campaign with the right outcome per row, retries that carry what was collected, and events."""

from __future__ import annotations

import time
from typing import Any

import sqlalchemy as sa
from sqlalchemy import create_engine
from tests.e2e.conftest import VoiceServer
from tests.support import client_for, new_key

FLOW: dict[str, Any] = {
    "start": "ask",
    "nodes": {
        "ask": {"ask": "Hello {{ first_name }}, do you still want the {{ plan }} plan?", "expect": "yes_no",
                "save_as": "wants_plan", "next": "bye"},
        "bye": {"say": "Thank you. Goodbye.", "end": "completed"},
    },
}
ALWAYS_OPEN = {"start": "00:00", "end": "23:59", "timezone": "UTC"}
CSV = (
    "customer_phone,first_name,plan\n"
    "+15550100001,Ann,gold\n"  # answers "yes"
    "+15550100002,Bob,silver\n"  # busy: retried once
    "+15550100003,Cy,bronze\n"  # no answer: retried once
    "+15550100005,Di,gold\n"  # voicemail: not retried
    "+15550100004,Ed,gold\n"  # the carrier fails: not retried
)


def wait_for_campaign(server: VoiceServer, campaign_id: str, timeout_s: float = 120) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        body: dict[str, Any] = server.api.get(f"/v1/campaigns/{campaign_id}").json()
        if body["status"] == "completed":
            return body
        time.sleep(0.2)
    raise AssertionError(f"campaign still {body['status']} after {timeout_s} s: {body['progress']}")


def test_a_campaign_of_mixed_callees_completes_with_each_rows_outcome(voice_server: VoiceServer) -> None:
    # An organization of its own: the campaign's rows update its contacts (the test numbers' names).
    with client_for(voice_server.base_url, new_key(voice_server.db_url)) as api:
        _run_campaign(VoiceServer(voice_server.base_url, voice_server.db_url, api))


def _run_campaign(voice_server: VoiceServer) -> None:
    api = voice_server.api
    agent = api.post("/v1/agents", json={"name": "Plans", "dialogue": {"engine": "flow", "flow": FLOW}}).json()
    created = api.post("/v1/campaigns", json={
        "name": "Mixed", "agent_id": agent["id"], "calling_window": ALWAYS_OPEN, "max_concurrency": 2,
        "context": {"promotion": "20% off"},
        "retry": {"max_attempts": 2, "on": ["busy", "no_answer"], "backoff_minutes": [0]},
    })
    assert created.status_code == 201, created.text
    cid = created.json()["id"]
    upload = api.post(f"/v1/campaigns/{cid}/contacts", content=CSV.encode(), headers={"Content-Type": "text/csv"})
    assert upload.json()["accepted"] == 5, upload.text
    assert api.post(f"/v1/campaigns/{cid}/start").status_code == 200

    done = wait_for_campaign(voice_server, cid)
    assert done["progress"]["by_state"]["completed"] == 2  # the answered call and the voicemail
    assert done["progress"]["by_state"]["failed"] == 3
    assert done["progress"]["attempts"] == 7  # busy and no answer were tried twice

    rows = {r["phone_number"]: r for r in api.get(f"/v1/campaigns/{cid}/contacts").json()["data"]}
    outcome = {n: (r["state"], r["last_outcome"], r["attempts"]) for n, r in rows.items()}
    assert outcome == {
        "+15550100001": ("completed", "completed", 1),
        "+15550100002": ("failed", "busy", 2),
        "+15550100003": ("failed", "no_answer", 2),
        "+15550100005": ("completed", "voicemail", 1),
        "+15550100004": ("failed", "failed", 1),
    }
    answered = api.get(f"/v1/calls/{rows['+15550100001']['last_call_id']}").json()
    assert answered["results"]["wants_plan"] is True
    assert answered["call_source"] == "api_campaign" and answered["campaign_id"] == cid
    assert answered["variables"]["plan"] == "gold" and "20% off" in str(answered["variables"]["context"])
    assert "Ann" in answered["transcript"][0]["text"] and "gold" in answered["transcript"][0]["text"]

    retried = api.get(f"/v1/calls/{rows['+15550100002']['last_call_id']}").json()
    assert retried["attempt"] == 2
    assert retried["retry_context"]["previous_call_id"]

    engine = create_engine(voice_server.db_url.replace("+aiosqlite", ""))
    with engine.connect() as conn:
        types = [r[0] for r in conn.execute(sa.text("SELECT type FROM events WHERE campaign_id = :c"),
                                             {"c": cid.replace("-", "")})]
    engine.dispose()
    assert types.count("campaign.started") == 1 and types.count("campaign.completed") == 1
