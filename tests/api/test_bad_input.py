"""Malformed requests get a precise 422 (or 409 for the do-not-call list), never a 500."""

from __future__ import annotations

from typing import Any

import httpx


def _loc(r: httpx.Response) -> list[Any]:
    assert r.status_code == 422, r.text
    loc: list[Any] = r.json()["detail"][0]["loc"]
    return loc


def test_a_wrong_phone_number_is_a_422_at_to(api: httpx.Client, agent: dict[str, Any]) -> None:
    assert _loc(api.post("/v1/calls", json={"agent_id": agent["id"], "to": "not a number"})) == ["body", "to"]


def test_a_local_number_without_a_country_is_a_422(api: httpx.Client, agent: dict[str, Any]) -> None:
    r = api.post("/v1/calls", json={"agent_id": agent["id"], "to": "020 7946 0958"})
    assert _loc(r) == ["body", "to"]
    assert "country" in r.json()["detail"][0]["msg"]


def test_a_lowercase_country_code_is_a_422(api: httpx.Client, agent: dict[str, Any]) -> None:
    r = api.post("/v1/calls", json={"agent_id": agent["id"], "to": "02079460958", "country_code": "gb"})
    assert _loc(r) == ["body", "country_code"]


def test_an_unknown_agent_is_a_404(api: httpx.Client, agent: dict[str, Any]) -> None:
    # Well-formed, but names nothing this organization has: like any other missing resource.
    r = api.post("/v1/calls", json={"agent_id": "00000000-0000-4000-8000-000000000000", "to": "+14155552671"})
    assert r.status_code == 404 and "no active agent" in r.json()["detail"]


def test_malformed_json_is_a_422(api: httpx.Client) -> None:
    r = api.post("/v1/calls", content=b'{"to": ', headers={"Content-Type": "application/json"})
    assert r.status_code == 422
    assert r.json()["detail"][0]["type"] == "json_invalid"


def test_a_wrong_type_is_a_422(api: httpx.Client, agent: dict[str, Any]) -> None:
    r = api.post("/v1/calls", json={"agent_id": agent["id"], "to": "+14155552671", "variables": ["x"]})
    assert _loc(r) == ["body", "variables"]


def test_two_callees_at_once_is_a_422(api: httpx.Client, agent: dict[str, Any]) -> None:
    r = api.post(
        "/v1/calls", json={"agent_id": agent["id"], "to": "+14155552671", "contact": {"phone_number": "+14155552672"}}
    )
    assert r.status_code == 422
    assert "exactly one" in r.text


def test_an_unknown_call_field_is_a_422(api: httpx.Client, agent: dict[str, Any]) -> None:
    assert _loc(api.post("/v1/calls", json={"agent_id": agent["id"], "to": "+14155552671", "colour": 1})) == [
        "body",
        "colour",
    ]


def test_simulated_callee_with_an_unknown_behavior_is_a_422(api: httpx.Client, agent: dict[str, Any]) -> None:
    r = api.post(
        "/v1/calls", json={"agent_id": agent["id"], "to": "+14155552671", "simulated_callee": {"behavior": "dance"}}
    )
    assert _loc(r)[:2] == ["body", "simulated_callee"]


def test_a_number_on_the_do_not_call_list_is_refused_with_409(api: httpx.Client, agent: dict[str, Any]) -> None:
    assert api.post("/v1/dnc", json={"phone_number": "(415) 555-2699", "reason": "asked"}).status_code == 201
    assert "+14155552699" in [d["phone_number"] for d in api.get("/v1/dnc").json()["data"]]
    r = api.post("/v1/calls", json={"agent_id": agent["id"], "to": "+14155552699"})
    assert r.status_code == 409 and "do-not-call" in r.json()["detail"]
    assert api.delete("/v1/dnc/+14155552699").status_code == 204
    assert api.post("/v1/calls", json={"agent_id": agent["id"], "to": "+14155552699"}).status_code == 201
