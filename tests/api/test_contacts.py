"""Contacts: numbers in any format stored as E.164, with the callee's time zone."""

from __future__ import annotations

import httpx


def test_a_local_number_is_parsed_with_its_country_code(api: httpx.Client) -> None:
    r = api.post("/v1/contacts", json={"phone_number": "050 123 4567", "country_code": "SA", "first_name": "Omar"})
    assert r.status_code == 201, r.text
    assert r.json()["phone_number"] == "+966501234567"
    assert r.json()["timezone"] == "Asia/Riyadh"


def test_the_time_zone_comes_from_the_number(api: httpx.Client) -> None:
    r = api.post("/v1/contacts", json={"phone_number": "+1 (415) 555-2671"})
    assert r.json()["timezone"] == "America/Los_Angeles"


def test_a_contact_is_found_by_phone_number_in_any_format(api: httpx.Client) -> None:
    api.post("/v1/contacts", json={"phone_number": "+14155552672", "first_name": "Ann"})
    found = api.get("/v1/contacts", params={"phone_number": "(415) 555-2672"}).json()["data"]
    assert [c["first_name"] for c in found] == ["Ann"]


def test_a_second_contact_with_the_same_number_is_a_409(api: httpx.Client) -> None:
    api.post("/v1/contacts", json={"phone_number": "+14155552673"})
    assert api.post("/v1/contacts", json={"phone_number": "415-555-2673"}).status_code == 409


def test_a_bad_phone_number_is_a_precise_422(api: httpx.Client) -> None:
    r = api.post("/v1/contacts", json={"phone_number": "12ab"})
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == ["body", "phone_number"]


def test_a_contact_is_updated_and_deleted(api: httpx.Client) -> None:
    c = api.post("/v1/contacts", json={"phone_number": "+14155552674", "attributes": {"tier": "gold"}}).json()
    updated = api.patch(f"/v1/contacts/{c['id']}", json={"last_name": "Lee", "attributes": {"vip": True}}).json()
    assert updated["last_name"] == "Lee" and updated["attributes"] == {"vip": True}
    assert api.delete(f"/v1/contacts/{c['id']}").status_code == 204
    assert api.get(f"/v1/contacts/{c['id']}").status_code == 404
