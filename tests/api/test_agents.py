"""Agents: validated configuration and immutable versions."""

from __future__ import annotations

import httpx

FLOW = {
    "start": "greet",
    "nodes": {
        "greet": {"say": "Hi {{ first_name | default('there') }}, this is Acme.", "next": "confirm"},
        "confirm": {
            "ask": "Can you make it on {{ date }}?",
            "expect": "yes_no",
            "save_as": "confirmed",
            "branches": {"yes": "bye", "no": "bye"},
        },
        "bye": {"say": "Goodbye.", "end": "completed"},
    },
}


def test_an_agent_gets_defaults_for_every_omitted_field(api: httpx.Client) -> None:
    r = api.post("/v1/agents", json={"name": "Minimal"})
    assert r.status_code == 201
    body = r.json()
    assert body["version"] == 1 and body["version_id"]
    assert body["turn_taking"]["endpointing_ms"] == 500
    assert body["phone"]["provider"] == "simulator"
    assert body["voicemail"]["action"] == "hangup"


def test_an_agent_accepts_every_documented_field(api: httpx.Client) -> None:
    full = {
        "name": "Full",
        "language": "en-US",
        "prompt": "You are {{ agent_name||Sam }}.",
        "first_message": "Hello {{ first_name }}",
        "dialogue": {"engine": "flow", "flow": FLOW},
        "voice": {"provider": "espeak", "voice_id": "en-us", "speed": 1.1},
        "transcriber": {"provider": "pocketsphinx", "language": "en-US", "hints": ["acme"]},
        "tools": [{"name": "lookup", "description": "Find an order", "url": "https://api.example.com/x"}],
        "turn_taking": {"endpointing_ms": 400, "allow_interruptions": False, "interruption_min_words": 2},
        "max_duration_s": 300,
        "end_call_after_silence_s": 15,
        "voicemail": {"action": "leave_message", "message": "Call us back, {{ first_name }}."},
        "analysis": {
            "summary": True,
            "sentiment": True,
            "success_criteria": "confirmed",
            "results": [{"name": "intent", "type": "enum", "description": "why", "enum": ["a", "b"]}],
        },
        "retry": {"max_attempts": 3, "on": ["no_answer", "busy"], "backoff_minutes": [10, 60]},
        "dynamic_context": {
            "enabled": True,
            "url": "https://crm.example.com/ctx",
            "auth": {"type": "bearer", "token": "t0k"},
            "timeout_s": 5,
        },
        "phone": {"provider": "simulator", "from_number": "+14155550100"},
    }
    r = api.post("/v1/agents", json=full)
    assert r.status_code == 201, r.text
    assert r.json()["dialogue"]["flow"]["start"] == "greet"
    assert r.json()["retry"]["max_attempts"] == 3


def test_an_unknown_agent_field_is_a_422(api: httpx.Client) -> None:
    r = api.post("/v1/agents", json={"name": "X", "temprature": 0.2})
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == ["body", "temprature"]


def test_a_flow_that_names_a_missing_node_is_a_422(api: httpx.Client) -> None:
    bad = {"start": "greet", "nodes": {"greet": {"say": "hi", "next": "nowhere"}}}
    r = api.post("/v1/agents", json={"name": "X", "dialogue": {"engine": "flow", "flow": bad}})
    assert r.status_code == 422
    assert "nowhere" in r.text


def test_a_broken_template_is_a_422(api: httpx.Client) -> None:
    r = api.post("/v1/agents", json={"name": "X", "first_message": "Hi {{ first_name "})
    assert r.status_code == 422
    assert "template" in r.text


def test_every_change_makes_a_new_immutable_version(api: httpx.Client) -> None:
    agent = api.post("/v1/agents", json={"name": "V", "prompt": "one"}).json()
    changed = api.patch(f"/v1/agents/{agent['id']}", json={"prompt": "two"}).json()
    assert changed["version"] == 2 and changed["version_id"] != agent["version_id"]
    assert changed["prompt"] == "two"
    versions = api.get(f"/v1/agents/{agent['id']}/versions").json()
    assert [v["version"] for v in versions] == [2, 1]
    assert versions[1]["config"]["prompt"] == "one"


def test_a_patch_that_breaks_validation_is_a_422_and_changes_nothing(api: httpx.Client) -> None:
    agent = api.post("/v1/agents", json={"name": "V"}).json()
    r = api.patch(f"/v1/agents/{agent['id']}", json={"turn_taking": {"endpointing_ms": 5}})
    assert r.status_code == 422
    assert api.get(f"/v1/agents/{agent['id']}").json()["version"] == 1


def test_an_archived_agent_leaves_the_list_but_stays_readable(api: httpx.Client) -> None:
    agent = api.post("/v1/agents", json={"name": "Old"}).json()
    assert api.delete(f"/v1/agents/{agent['id']}").status_code == 204
    assert agent["id"] not in [a["id"] for a in api.get("/v1/agents").json()["data"]]
    assert api.get(f"/v1/agents/{agent['id']}").json()["archived"] is True
    r = api.post("/v1/calls", json={"agent_id": agent["id"], "to": "+14155552671"})
    assert r.status_code == 404


def test_agents_page_with_a_cursor(api: httpx.Client) -> None:
    ids = {api.post("/v1/agents", json={"name": f"A{i}"}).json()["id"] for i in range(3)}
    first = api.get("/v1/agents", params={"limit": 2}).json()
    second = api.get("/v1/agents", params={"limit": 2, "cursor": first["next_cursor"]}).json()
    assert len(first["data"]) == 2 and second["next_cursor"] is None
    assert {a["id"] for a in first["data"] + second["data"]} == ids
