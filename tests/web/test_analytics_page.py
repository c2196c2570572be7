"""The dashboard's analytics page against a real server: groups named as people know them, and
the date filter of the API."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import closing

import httpx
import pytest

from tests.conftest import ApiServer
from tests.support import client_for, new_key
from tests.web.test_dashboard import sign_in


@pytest.fixture
def clients(api_server: ApiServer) -> Iterator[tuple[httpx.Client, httpx.Client]]:
    key = new_key(api_server.db_url)
    with client_for(api_server.base_url, key) as api, closing(sign_in(api_server.base_url, key)) as browser:
        yield api, browser


def test_groups_by_agent_and_campaign_are_shown_by_name(clients: tuple[httpx.Client, httpx.Client]) -> None:
    api, browser = clients
    agent = api.post("/v1/agents", json={"name": "Collections <east>"}).json()
    api.post("/v1/calls", json={"agent_id": agent["id"], "to": "+14155552681"}).raise_for_status()
    by_agent = browser.get("/app/analytics?group_by=agent_id").text
    assert f'<a href="/app/agents/{agent["id"]}">Collections &lt;east&gt;</a>' in by_agent
    assert "<title>Collections &lt;east&gt;: 1 calls</title>" in by_agent
    by_campaign = browser.get("/app/analytics?group_by=campaign_id").text
    assert "<title>no campaign: 1 calls</title>" in by_campaign


def test_the_date_filter_keeps_the_calls_created_in_it(clients: tuple[httpx.Client, httpx.Client]) -> None:
    api, browser = clients
    agent = api.post("/v1/agents", json={"name": "Dates"}).json()
    api.post("/v1/calls", json={"agent_id": agent["id"], "to": "+14155552682"}).raise_for_status()
    assert "<title>api: 1 calls</title>" in browser.get("/app/analytics?created_after=2020-01-01").text
    before = browser.get("/app/analytics?created_before=2020-01-01").text
    assert "<title>" not in before.split("<main>", 1)[1] and "No calls in these dates." in before
    assert re.search(r'name="created_before" value="2020-01-01"', before)
    assert browser.get("/app/analytics?created_after=yesterday").status_code == 422
