"""The server accepts what its OpenAPI document describes, and refuses the rest with a documented status."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from callwright.demo import DEMO_FLOW


def _problem(r: httpx.Response) -> dict[str, Any]:
    assert r.status_code == 422, r.text
    problem: dict[str, Any] = r.json()["detail"][0]
    return problem


def test_a_boolean_field_refuses_a_number(api: httpx.Client) -> None:
    r = api.post("/v1/agents", json={"name": "A", "dynamic_context": {"enabled": 0}})
    assert _problem(r)["loc"] == ["body", "dynamic_context", "enabled"]


def test_an_integer_field_refuses_a_string_but_takes_a_whole_float(api: httpx.Client) -> None:
    assert _problem(api.post("/v1/agents", json={"name": "A", "max_duration_s": "60"}))["type"] == "int_type"
    r = api.post("/v1/agents", json={"name": "A", "max_duration_s": 60.0, "turn_taking": {"endpointing_ms": 300.0}})
    assert r.status_code == 201, r.text
    assert r.json()["max_duration_s"] == 60 and r.json()["turn_taking"]["endpointing_ms"] == 300


def test_a_uuid_and_a_timestamp_are_strings(api: httpx.Client, agent: dict[str, Any]) -> None:
    body = {"agent_id": agent["id"], "to": "+14155552671", "scheduled_for": "2099-01-01T09:00:00Z"}
    assert api.post("/v1/calls", json=body).json()["status"] == "scheduled"
    assert _problem(api.post("/v1/calls", json={**body, "scheduled_for": 4070941200}))["loc"] == [
        "body", "scheduled_for",
    ]
    assert _problem(api.post("/v1/calls", json={**body, "scheduled_for": "2099-01-01"}))["loc"] == [
        "body", "scheduled_for",
    ]


def test_a_phone_number_outside_the_documented_characters_is_a_422(api: httpx.Client) -> None:
    r = api.post("/v1/contacts", json={"phone_number": "+1 415 555 2671 ext. 9"})
    assert _problem(r)["type"] == "string_pattern_mismatch"


def test_a_number_with_the_right_characters_that_cannot_be_dialed_names_its_rule(api: httpx.Client) -> None:
    assert _problem(api.post("/v1/contacts", json={"phone_number": "0"}))["type"] == "value_error.phone_number"


def test_an_unknown_country_code_is_refused_at_the_field(api: httpx.Client, agent: dict[str, Any]) -> None:
    r = api.post("/v1/calls", json={"agent_id": agent["id"], "to": "02079460958", "country_code": "AA"})
    assert _problem(r)["loc"] == ["body", "country_code"]


def test_a_patch_refuses_null_for_a_setting_that_cannot_be_null(api: httpx.Client, agent: dict[str, Any]) -> None:
    assert _problem(api.patch(f"/v1/agents/{agent['id']}", json={"language": None}))["loc"] == ["body", "language"]
    assert api.patch(f"/v1/agents/{agent['id']}", json={"name": None, "first_message": None}).status_code == 200


def test_a_field_both_at_the_top_level_and_in_call_is_a_field_conflict(
    api: httpx.Client, agent: dict[str, Any]
) -> None:
    body = {"agent_id": agent["id"], "to": "+14155552671", "context": "a", "call": {"context": "b"}}
    assert _problem(api.post("/v1/calls", json=body))["type"] == "field_conflict"


def test_any_well_formed_cursor_is_a_position_in_the_list(api: httpx.Client) -> None:
    for _ in range(3):
        api.post("/v1/agents", json={"name": "Paged"})
    first = api.get("/v1/agents", params={"limit": 2}).json()
    assert first["next_cursor"] is not None
    assert api.get("/v1/agents", params={"limit": 2, "cursor": first["next_cursor"]}).status_code == 200
    assert api.get("/v1/agents", params={"cursor": f"1-{uuid.uuid4().hex}"}).json()["data"] == []
    assert _problem(api.get("/v1/agents", params={"cursor": "not-a-cursor"}))["loc"] == ["query", "cursor"]


def test_calling_before_any_agent_exists_is_a_conflict(other_org: httpx.Client) -> None:
    r = other_org.post("/v1/calls", json={"to": "+14155552671"})
    assert r.status_code == 409 and "no active agent yet" in r.json()["detail"]


def test_an_unknown_contact_is_a_404(api: httpx.Client, agent: dict[str, Any]) -> None:
    r = api.post("/v1/calls", json={"agent_id": agent["id"], "contact_id": str(uuid.uuid4())})
    assert r.status_code == 404 and "no contact" in r.json()["detail"]


def test_a_simulated_callee_for_a_twilio_agent_is_a_conflict(api: httpx.Client) -> None:
    twilio = api.post("/v1/agents", json={"name": "T", "phone": {"provider": "twilio", "from_number": "+14155550000"}})
    body = {"agent_id": twilio.json()["id"], "to": "+14155552671", "simulated_callee": {"behavior": "busy"}}
    r = api.post("/v1/calls", json=body)
    assert r.status_code == 409 and "simulated_callee" in r.json()["detail"]


def test_a_text_chat_with_an_llm_agent_is_a_conflict(api: httpx.Client) -> None:
    agent = api.post("/v1/agents", json={"name": "L", "dialogue": {"engine": "llm"}}).json()
    r = api.post(f"/v1/agents/{agent['id']}/chat", json={})
    assert r.status_code == 409 and "llm" in r.json()["detail"]


def test_a_chat_reply_matches_its_documented_shape(api: httpx.Client) -> None:
    agent = api.post("/v1/agents", json={"name": "C", "dialogue": {"engine": "flow", "flow": DEMO_FLOW}}).json()
    reply = api.post(f"/v1/agents/{agent['id']}/chat", json={}).json()
    assert set(reply) == {
        "session_id", "replies", "expecting", "ended", "outcome", "results", "first_message", "tool_calls"
    }


def test_a_wrong_method_answers_405_with_every_method_of_the_path(api: httpx.Client, agent: dict[str, Any]) -> None:
    r = api.request("PUT", f"/v1/agents/{agent['id']}")
    assert r.status_code == 405
    assert r.headers["allow"] == "DELETE, GET, PATCH"
    assert api.request("DELETE", "/v1/dnc").headers["allow"] == "GET, POST"


def test_an_unreadable_body_is_a_documented_400(api: httpx.Client) -> None:
    r = api.post("/v1/contacts", content=b"\xff\xfe{", headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and isinstance(r.json()["detail"], str)
    spec = api.get("/openapi.json").json()
    assert "400" in spec["paths"]["/v1/contacts"]["post"]["responses"]
    assert "400" not in spec["paths"]["/v1/contacts"]["get"]["responses"]


def test_each_documented_422_names_the_rules_the_schema_cannot_state(api: httpx.Client) -> None:
    spec = api.get("/openapi.json").json()
    described = spec["paths"]["/v1/calls"]["post"]["responses"]["422"]["description"]
    for kind in ("value_error.phone_number", "template_syntax", "flow_reference", "field_conflict"):
        assert f"`{kind}`" in described
