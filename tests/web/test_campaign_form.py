"""The dashboard's new-campaign form against a real server: every field of ``POST /v1/campaigns``
it offers lands in the campaign, its defaults are the API's, and a refusal is in words."""

from __future__ import annotations

import html
from collections.abc import Iterator
from contextlib import closing
from typing import Any

import httpx
import pytest

from tests.conftest import ApiServer
from tests.support import client_for, new_key
from tests.web.forms import form_fields
from tests.web.test_dashboard import csrf_of, sign_in


@pytest.fixture
def clients(api_server: ApiServer) -> Iterator[tuple[httpx.Client, httpx.Client]]:
    key = new_key(api_server.db_url)
    with client_for(api_server.base_url, key) as api, closing(sign_in(api_server.base_url, key)) as browser:
        yield api, browser


def new_form(browser: httpx.Client, **changes: str | list[str] | None) -> dict[str, Any]:
    """The form as the page offers it, with some fields changed (None: left out, as an unticked box)."""
    data: dict[str, Any] = {}
    for name, value in form_fields(browser.get("/app/campaigns").text, "new-campaign"):
        data.setdefault(name, []).append(value)
    for name, change in changes.items():
        data.pop(name, None)
        if change is not None:
            data[name] = change
    return data


def agent_id(api: httpx.Client) -> str:
    r = api.post("/v1/agents", json={"name": "Caller"})
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def test_the_form_as_offered_creates_a_campaign_with_the_apis_defaults(
    clients: tuple[httpx.Client, httpx.Client],
) -> None:
    api, browser = clients
    aid = agent_id(api)
    r = browser.post("/app/campaigns", data=new_form(browser, name="Defaults", agent_id=aid))
    assert r.status_code == 303, html.unescape(r.text)[-3000:]
    made = api.get(f"/v1/campaigns/{r.headers['location'].rsplit('/', 1)[1]}").json()
    by_api = api.post("/v1/campaigns", json={"name": "Defaults", "agent_id": aid}).json()
    same = ("call_source", "calling_window", "max_concurrency", "max_attempts_per_day", "retry", "start_at",
            "default_region", "context")
    assert {k: made[k] for k in same} == {k: by_api[k] for k in same}


def test_the_calling_window_limits_and_retries_of_the_form_are_the_campaigns(
    clients: tuple[httpx.Client, httpx.Client],
) -> None:
    api, browser = clients
    data = new_form(
        browser, name="Weekday mornings", agent_id=agent_id(api), call_source="crm_batch",
        context='{"promotion": "20% off"}', default_region="gb", start_at="2030-01-02T09:30",
        max_concurrency="7", max_attempts_per_day="2",
        **{"calling_window.start": "09:00", "calling_window.end": "12:30",
           "calling_window.days": ["mon", "tue", "wed"], "calling_window.timezone": "Europe/London",
           "retry.max_attempts": "4", "retry.on": ["no_answer", "voicemail"], "retry.backoff_minutes": "15, 60"},
    )
    r = browser.post("/app/campaigns", data=data)
    assert r.status_code == 303, html.unescape(r.text)[-3000:]
    made = api.get(f"/v1/campaigns/{r.headers['location'].rsplit('/', 1)[1]}").json()
    assert made["calling_window"] == {"start": "09:00", "end": "12:30", "days": ["mon", "tue", "wed"],
                                      "timezone": "Europe/London"}
    assert made["retry"] == {"max_attempts": 4, "on": ["no_answer", "voicemail"], "backoff_minutes": [15, 60]}
    assert (made["max_concurrency"], made["max_attempts_per_day"]) == (7, 2)
    assert (made["call_source"], made["default_region"]) == ("crm_batch", "GB")
    assert made["context"] == {"promotion": "20% off"}
    assert made["start_at"] == "2030-01-02T09:30:00Z"


def test_a_plain_text_context_stays_text(clients: tuple[httpx.Client, httpx.Client]) -> None:
    api, browser = clients
    r = browser.post("/app/campaigns", data=new_form(browser, name="Text", agent_id=agent_id(api),
                                                     context="Be brief: it is a holiday."))
    assert r.status_code == 303
    made = api.get(f"/v1/campaigns/{r.headers['location'].rsplit('/', 1)[1]}").json()
    assert made["context"] == "Be brief: it is a holiday."


def test_a_window_across_midnight_and_no_days_are_refused_in_words_and_nothing_is_created(
    clients: tuple[httpx.Client, httpx.Client],
) -> None:
    api, browser = clients
    aid = agent_id(api)
    across = browser.post("/app/campaigns", data=new_form(
        browser, name="Night", agent_id=aid, **{"calling_window.start": "22:00", "calling_window.end": "06:00"}))
    assert across.status_code == 422
    text = html.unescape(across.text)
    assert "Calling window: calling_window.start (22:00) must be earlier than end (06:00)" in text
    assert 'name="name" value="Night"' in text and 'value="22:00"' in text  # shown again as typed
    no_days = browser.post("/app/campaigns", data=new_form(
        browser, name="Never", agent_id=aid, **{"calling_window.days": None}))
    assert no_days.status_code == 422
    assert "Calling window: days: List should have at least 1 item" in html.unescape(no_days.text)
    bad_zone = browser.post("/app/campaigns", data=new_form(
        browser, name="Mars", agent_id=aid, max_concurrency="lots", **{"calling_window.timezone": "Mars/Base"}))
    text = html.unescape(bad_zone.text)
    assert "Calling window: time zone: 'Mars/Base' is not an IANA time zone name" in text
    assert "Concurrent calls at most: Input should be a valid integer" in text
    assert api.get("/v1/campaigns").json()["data"] == []


def test_a_campaign_for_another_organizations_agent_is_refused(
    api_server: ApiServer, clients: tuple[httpx.Client, httpx.Client],
) -> None:
    api, browser = clients
    with client_for(api_server.base_url, new_key(api_server.db_url)) as stranger:
        theirs = agent_id(stranger)
    token = csrf_of(browser.get("/app/campaigns").text)
    r = browser.post("/app/campaigns", data={"csrf_token": token, "name": "Theirs", "agent_id": theirs})
    assert r.status_code == 422 and "Agent: no such agent" in r.text
    assert api.get("/v1/campaigns").json()["data"] == []
