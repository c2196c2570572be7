"""Text holding NUL (U+0000) is refused with a precise 422 on every back end: PostgreSQL cannot
store it, so without the guard one request was a 201 on SQLite and a 500 on PostgreSQL."""

from __future__ import annotations

import httpx

from callwright.api.nul_guard import body_nul_location


def test_a_nul_in_a_contact_field_is_a_422_naming_the_field(api: httpx.Client) -> None:
    r = api.post("/v1/contacts", json={"phone_number": "+15550100022", "first_name": "Al\u0000ex"})
    assert r.status_code == 422, r.text
    msg = "text may not contain the NUL character (\\u0000)"
    assert r.json()["detail"] == [{"loc": ["body", "first_name"], "msg": msg, "type": "nul_character"}]


def test_a_nul_deep_in_call_metadata_is_refused_and_no_call_is_made(
    api: httpx.Client, agent: dict[str, object]
) -> None:
    before = api.get("/v1/conversations").json()
    body = {"agent_id": agent["id"], "to": "+15550100021", "metadata": {"crm": ["ok", "x\u0000"]}}
    r = api.post("/v1/calls", json=body)
    assert r.status_code == 422, r.text
    assert r.json()["detail"][0]["loc"] == ["body", "metadata", "crm", 1]
    assert api.get("/v1/conversations").json() == before


def test_a_nul_in_a_query_filter_is_a_422(api: httpx.Client) -> None:
    r = api.get("/v1/calls", params={"call_source": "api\x00"})
    assert r.status_code == 422
    assert r.json()["detail"][0]["type"] == "nul_character"


def test_text_that_only_spells_the_escape_is_accepted(api: httpx.Client) -> None:
    r = api.post("/v1/contacts", json={"phone_number": "+15550100023", "first_name": "back\\u0000slash"})
    assert r.status_code == 201, r.text
    assert r.json()["first_name"] == "back\\u0000slash"


def test_the_body_scan_finds_a_nul_in_a_key_and_ignores_bad_json() -> None:
    assert body_nul_location(b'{"a": {"k\\u0000": 1}}') == ["body", "a", "k\\u0000"]
    assert body_nul_location(b'{"a": "\\u0000"') is None  # not JSON: the route says so itself
    assert body_nul_location(b'{"a": "plain"}') is None
