"""POST /v1/calls in its canonical form, and the conversation record it creates."""

from __future__ import annotations

import re
import uuid
from typing import Any

import httpx


def test_a_call_is_stored_queued_with_a_trace_id(api: httpx.Client, agent: dict[str, Any]) -> None:
    r = api.post("/v1/calls", json={"agent_id": agent["id"], "to": "+14155552671"})
    assert r.status_code == 201, r.text
    call = r.json()
    assert call["status"] == "queued"
    assert re.fullmatch(r"[0-9a-f]{32}", call["trace_id"])
    assert call["call_source"] == "api" and call["direction"] == "outbound"
    assert call["agent_version_id"] == agent["version_id"]
    assert call["created_at"].endswith("Z")
    assert api.get(f"/v1/conversations/{call['id']}").json() == api.get(f"/v1/calls/{call['id']}").json()


def test_a_call_to_an_unknown_number_creates_the_contact(api: httpx.Client, agent: dict[str, Any]) -> None:
    call = api.post("/v1/calls", json={"agent_id": agent["id"], "to": "(415) 555-2680", "country_code": "US"}).json()
    contact = api.get(f"/v1/contacts/{call['contact_id']}").json()
    assert contact["phone_number"] == call["to"] == "+14155552680"


def test_update_existing_refreshes_the_contact_profile(api: httpx.Client, agent: dict[str, Any]) -> None:
    c = {"phone_number": "+14155552681", "first_name": "Old"}
    first = api.post("/v1/calls", json={"agent_id": agent["id"], "contact": c}).json()
    c2 = {"phone_number": "+14155552681", "first_name": "New"}
    api.post("/v1/calls", json={"agent_id": agent["id"], "contact": c2})
    assert api.get(f"/v1/contacts/{first['contact_id']}").json()["first_name"] == "Old"
    api.post("/v1/calls", json={"agent_id": agent["id"], "contact": c2, "update_existing": True})
    assert api.get(f"/v1/contacts/{first['contact_id']}").json()["first_name"] == "New"


def test_templates_render_with_variables_by_precedence(api: httpx.Client, agent: dict[str, Any]) -> None:
    body = {
        "agent_id": agent["id"],
        "contact": {"phone_number": "+14155552682", "first_name": "Alice", "attributes": {"amount": "$1"}},
        "variables": {"amount": "$500.00"},
    }
    call = api.post("/v1/calls", json=body).json()
    assert call["first_message"] == "Hi Alice!"
    assert "You remind Alice about $500.00." in call["prompt"]
    assert call["variables"]["amount"] == "$500.00"
    assert call["variables"]["contact_number"] == "+14155552682"


def test_the_fallback_form_fills_a_missing_variable(api: httpx.Client, agent: dict[str, Any]) -> None:
    call = api.post("/v1/calls", json={"agent_id": agent["id"], "to": "+14155552683"}).json()
    assert call["first_message"] == "Hi there!"


def test_a_call_first_message_overrides_the_agents(api: httpx.Client, agent: dict[str, Any]) -> None:
    call = api.post(
        "/v1/calls",
        json={
            "agent_id": agent["id"],
            "to": "+14155552684",
            "first_message": "Hello {{ who }}",
            "variables": {"who": "friend"},
        },
    ).json()
    assert call["first_message"] == "Hello friend"


def test_context_goes_into_the_instructions_as_its_own_section(api: httpx.Client, agent: dict[str, Any]) -> None:
    call = api.post(
        "/v1/calls",
        json={
            "agent_id": agent["id"],
            "to": "+14155552685",
            "context": {"tier": "VIP", "budget": 500},
        },
    ).json()
    assert call["context"] == {"tier": "VIP", "budget": 500}
    assert "Call context" in call["prompt"] and "VIP" in call["prompt"]


def test_scheduled_for_in_the_future_stores_a_scheduled_call(api: httpx.Client, agent: dict[str, Any]) -> None:
    call = api.post(
        "/v1/calls",
        json={
            "agent_id": agent["id"],
            "to": "+14155552686",
            "scheduled_for": "2099-11-21T15:00:00Z",
        },
    ).json()
    assert call["status"] == "scheduled"
    assert call["scheduled_for"] == "2099-11-21T15:00:00Z"


def test_metadata_retry_context_and_call_source_are_kept(api: httpx.Client, agent: dict[str, Any]) -> None:
    prev = str(uuid.uuid4())
    call = api.post(
        "/v1/calls",
        json={
            "agent_id": agent["id"],
            "to": "+14155552687",
            "metadata": {"crm": 7},
            "call_source": "crm_sync",
            "retry_context": {
                "collected_data": {"dob": "1990"},
                "opening_message": "Welcome back {{ first_name||friend }}",
                "language": "en",
                "stage_id": "s2",
                "previous_call_id": prev,
            },
        },
    ).json()
    assert call["metadata"] == {"crm": 7} and call["call_source"] == "crm_sync"
    assert call["retry_context"]["previous_call_id"] == prev
    assert call["first_message"] == "Welcome back friend"


def test_a_queued_call_can_be_canceled_once(api: httpx.Client, agent: dict[str, Any]) -> None:
    call = api.post("/v1/calls", json={"agent_id": agent["id"], "to": "+14155552688"}).json()
    r = api.post(f"/v1/calls/{call['id']}/cancel")
    assert r.json()["status"] == "canceled" and r.json()["ended_at"]
    assert api.post(f"/v1/calls/{call['id']}/cancel").status_code == 409


def test_the_same_idempotency_key_and_body_replays_the_first_response(api: httpx.Client, agent: dict[str, Any]) -> None:
    body = {"agent_id": agent["id"], "to": "+14155552689"}
    key = {"Idempotency-Key": str(uuid.uuid4())}
    first = api.post("/v1/calls", json=body, headers=key)
    again = api.post("/v1/calls", json=body, headers=key)
    assert again.status_code == 201 and again.json()["id"] == first.json()["id"]


def test_the_same_idempotency_key_with_another_body_is_a_409(api: httpx.Client, agent: dict[str, Any]) -> None:
    key = {"Idempotency-Key": str(uuid.uuid4())}
    api.post("/v1/calls", json={"agent_id": agent["id"], "to": "+14155552690"}, headers=key)
    r = api.post("/v1/calls", json={"agent_id": agent["id"], "to": "+14155552691"}, headers=key)
    assert r.status_code == 409


def test_without_agent_id_the_organizations_first_agent_is_used(api: httpx.Client, agent: dict[str, Any]) -> None:
    api.post("/v1/agents", json={"name": "Second"})
    call = api.post("/v1/calls", json={"to": "+14155552692"}).json()
    assert call["agent_id"] == agent["id"]


def test_conversations_filter_and_paginate(api: httpx.Client, agent: dict[str, Any]) -> None:
    for i in range(3):
        api.post("/v1/calls", json={"agent_id": agent["id"], "to": f"+1415555270{i}", "call_source": "web_form"})
    api.post("/v1/calls", json={"agent_id": agent["id"], "to": "+14155552709"})
    page = api.get("/v1/conversations", params={"call_source": "web_form", "limit": 2}).json()
    rest = api.get("/v1/conversations", params={"call_source": "web_form", "cursor": page["next_cursor"]}).json()
    assert len(page["data"]) == 2 and len(rest["data"]) == 1 and rest["next_cursor"] is None
    assert all(c["call_source"] == "web_form" for c in page["data"] + rest["data"])
    queued = api.get("/v1/conversations", params={"status": "queued", "agent_id": agent["id"]}).json()
    assert len(queued["data"]) == 4


def test_a_recording_is_404_until_there_is_one(api: httpx.Client, agent: dict[str, Any]) -> None:
    call = api.post("/v1/calls", json={"agent_id": agent["id"], "to": "+14155552693"}).json()
    assert api.get(f"/v1/conversations/{call['id']}/recording").status_code == 404
    assert api.get(f"/v1/conversations/{call['id']}/transcript").json() == []


def test_a_scheduled_for_without_a_zone_is_taken_as_utc(api: httpx.Client, agent: dict[str, Any]) -> None:
    body = {"agent_id": agent["id"], "to": "+14155552694", "call": {"scheduled_for": "2099-03-01T09:30:00"}}
    call = api.post("/v1/calls", json=body).json()
    assert call["scheduled_for"] == "2099-03-01T09:30:00Z"
