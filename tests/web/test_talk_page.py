"""The "Talk to this agent" page and the widget's files, over HTTP (the conversation itself is
in tests/browser/test_browser_call.py)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import closing
from typing import Any

import httpx
import pytest

from tests.api.test_web_calls import media_process  # noqa: F401  (a fixture)
from tests.conftest import ApiServer
from tests.support import client_for, new_key
from tests.web.test_dashboard import csrf_of, sign_in


@pytest.fixture
def key(api_server: ApiServer) -> str:
    return new_key(api_server.db_url)


@pytest.fixture
def agent_id(api_server: ApiServer, key: str) -> str:
    with client_for(api_server.base_url, key) as api:
        r = api.post("/v1/agents", json={"name": "Talker"})
        assert r.status_code == 201, r.text
        return str(r.json()["id"])


@pytest.fixture
def browser(api_server: ApiServer, key: str) -> Iterator[httpx.Client]:
    with closing(sign_in(api_server.base_url, key)) as client:
        yield client


def test_the_page_offers_the_call_and_the_widget_snippet(browser: httpx.Client, agent_id: str) -> None:
    r = browser.get(f"/app/agents/{agent_id}/talk")
    assert r.status_code == 200
    assert 'id="talk-start"' in r.text and 'data-worklet="/app/static/mic-worklet.js"' in r.text
    assert "/app/static/widget.js" in r.text and "data-token-url" in r.text
    assert "script-src 'self'" in r.headers["content-security-policy"]


@pytest.mark.usefixtures("media_process")
def test_the_page_mints_a_dashboard_web_call_with_the_sessions_csrf_token(
    browser: httpx.Client, agent_id: str, api_server: ApiServer, key: str
) -> None:
    csrf = csrf_of(browser.get(f"/app/agents/{agent_id}/talk").text)
    assert browser.post(f"/app/agents/{agent_id}/talk").status_code == 403
    r = browser.post(f"/app/agents/{agent_id}/talk", headers={"X-CSRF-Token": csrf})
    assert r.status_code == 201, r.text
    ticket: dict[str, Any] = r.json()
    assert ticket["websocket_url"].endswith("/web-calls/stream") and ticket["access_token"]
    assert ticket["events_url"] == f"/app/calls/{ticket['call_id']}/events"
    with client_for(api_server.base_url, key) as api:
        call = api.get(f"/v1/calls/{ticket['call_id']}").json()
    assert call["medium"] == "web" and call["call_source"] == "dashboard" and call["status"] == "ringing"


def test_without_a_process_that_runs_calls_the_page_says_so(browser: httpx.Client, agent_id: str) -> None:
    csrf = csrf_of(browser.get(f"/app/agents/{agent_id}/talk").text)
    r = browser.post(f"/app/agents/{agent_id}/talk", headers={"X-CSRF-Token": csrf})
    assert r.status_code == 409
    assert "media role" in r.json()["error"]


def test_the_page_needs_a_session(api_server: ApiServer, agent_id: str) -> None:
    r = httpx.get(f"{api_server.base_url}/app/agents/{agent_id}/talk")
    assert r.status_code == 303 and r.headers["location"] == "/app/signin"


def test_the_widget_and_its_worklet_load_from_any_origin(api_server: ApiServer) -> None:
    widget = httpx.get(f"{api_server.base_url}/app/static/widget.js")
    assert widget.status_code == 200 and "data-token-url" in widget.text
    worklet = httpx.get(f"{api_server.base_url}/app/embed/mic-worklet.js", headers={"Origin": "https://shop.example"})
    assert worklet.status_code == 200
    assert worklet.headers["access-control-allow-origin"] == "*"
    assert worklet.headers["content-type"].startswith("text/javascript")
    assert "registerProcessor" in worklet.text
    assert httpx.get(f"{api_server.base_url}/app/embed/app.js").status_code == 404
