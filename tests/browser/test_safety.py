"""Safety in a real browser: a form sent with a forged or missing CSRF token (by a tampered page
or by another site's form) is refused and changes nothing; one organization's session never
shows another's records; a cookie kept from before sign-out no longer opens anything."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from callwright.demo import DEMO_FLOW
from tests.browser.conftest import Dashboard, off_loop
from tests.support import new_key


@pytest.fixture(scope="module")
def agent(dashboard: Dashboard) -> dict[str, Any]:
    r = dashboard.api.post("/v1/agents", json={"name": "Reminders", "dialogue": {"engine": "flow", "flow": DEMO_FLOW}})
    assert r.status_code == 201, r.text
    return dict(r.json())


@pytest.fixture(scope="module")
def ended_call(dashboard: Dashboard, agent: dict[str, Any]) -> dict[str, Any]:
    r = dashboard.api.post("/v1/calls", json={
        "agent_id": agent["id"], "to": "+15550100061",
        "simulated_callee": {"says": ["yes"], "dtmf": {"verify": "4567"}},
    })
    assert r.status_code == 201, r.text
    return dashboard.server.wait_for_end(r.json()["id"])


def dashboard_calls(dashboard: Dashboard, agent: dict[str, Any]) -> int:
    params = {"agent_id": agent["id"], "call_source": "dashboard"}
    return len(dashboard.api.get("/v1/conversations", params=params).json()["data"])


def submit(page: Any, button: str) -> Any:
    """Click a form's button and return the response of the page it leads to."""
    with page.expect_navigation() as navigation:
        page.get_by_role("button", name=button).click()
    return navigation.value


def test_a_form_with_a_forged_csrf_token_is_refused_and_places_no_call(
    dashboard: Dashboard, page: Any, agent: dict[str, Any]
) -> None:
    before = dashboard_calls(dashboard, agent)
    page.goto(f"{dashboard.base_url}/app/calls/new")
    page.select_option("select[name=agent_id]", value=agent["id"])
    page.fill("input[name=to]", "+15550100001")
    page.evaluate("document.querySelector('form.stack input[name=csrf_token]').value = 'forged-token'")
    response = submit(page, "Call")
    assert response.status == 403
    assert "missing or invalid CSRF token" in page.locator("main .error").inner_text()
    assert dashboard_calls(dashboard, agent) == before


def test_a_form_without_its_csrf_token_is_refused_and_changes_nothing(
    dashboard: Dashboard, page: Any, agent: dict[str, Any]
) -> None:
    campaign = dashboard.api.post("/v1/campaigns", json={"name": "Held", "agent_id": agent["id"]}).json()
    page.goto(f"{dashboard.base_url}/app/campaigns/{campaign['id']}")
    start = page.locator("form[action$='/start']")
    start.locator("input[name=csrf_token]").evaluate("field => field.remove()")
    with page.expect_navigation() as navigation:
        start.get_by_role("button").click()
    assert navigation.value.status == 403
    assert "missing or invalid CSRF token" in page.locator("main .error").inner_text()
    assert dashboard.api.get(f"/v1/campaigns/{campaign['id']}").json()["status"] == campaign["status"] == "draft"


class HostileSite:
    """Another site on loopback (same-site for the browser: only the port differs, so the
    SameSite=Lax cookie is sent) whose page posts a "Call a number" form to the dashboard."""

    def __init__(self, target: str, agent_id: str) -> None:
        html = (
            f'<!doctype html><form id="f" method="post" action="{target}/app/calls">'
            f'<input name="agent_id" value="{agent_id}"><input name="to" value="+15550100001">'
            '<input name="csrf_token" value="guessed"></form>'
            "<script>document.getElementById('f').submit()</script>"
        ).encode()

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(html)))
                self.end_headers()
                self.wfile.write(html)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()


@pytest.fixture
def hostile_site(dashboard: Dashboard, agent: dict[str, Any]) -> Iterator[HostileSite]:
    site = HostileSite(dashboard.base_url, agent["id"])
    yield site
    site.httpd.shutdown()
    site.httpd.server_close()


def test_another_sites_form_cannot_place_a_call_with_the_signed_in_session(
    dashboard: Dashboard, page: Any, agent: dict[str, Any], hostile_site: HostileSite
) -> None:
    before = dashboard_calls(dashboard, agent)
    with page.expect_response(f"{dashboard.base_url}/app/calls") as posted:
        page.goto(hostile_site.url)
    assert posted.value.request.method == "POST"
    assert posted.value.status == 403
    assert dashboard_calls(dashboard, agent) == before


def test_another_organizations_session_cookie_shows_none_of_this_ones_records(
    dashboard: Dashboard, browser: Any, ended_call: dict[str, Any]
) -> None:
    other_key = off_loop(new_key, dashboard.server.db_url)
    theirs = browser.new_context()
    mine = browser.new_context()
    try:
        their_page = theirs.new_page()
        their_page.goto(f"{dashboard.base_url}/app/signin")
        their_page.fill("input[name=api_key]", other_key)
        their_page.click("button[type=submit]")
        their_page.wait_for_url(lambda url: "/app/signin" not in url)
        mine.add_cookies(theirs.cookies())  # the other organization's session, in a fresh browser
        tab = mine.new_page()
        call_id = ended_call["id"]
        for path in (f"/app/calls/{call_id}", f"/app/calls/{call_id}/recording", f"/app/calls/{call_id}/events",
                     f"/app/agents/{ended_call['agent_id']}"):
            response = tab.goto(f"{dashboard.base_url}{path}")
            assert response.status == 404, path
            assert "/app/signin" not in tab.url  # signed in, as the other organization
        tab.goto(f"{dashboard.base_url}/app/calls")
        assert call_id not in tab.content()
        assert "No calls match." in tab.locator("table tbody").inner_text()
        tab.goto(f"{dashboard.base_url}/app/agents")
        assert "Reminders" not in tab.locator("main").inner_text()
    finally:
        theirs.close()
        mine.close()


def test_a_cookie_kept_from_before_sign_out_opens_nothing_after_it(
    dashboard: Dashboard, page: Any, browser: Any, ended_call: dict[str, Any]
) -> None:
    kept = page.context.cookies()
    page.goto(f"{dashboard.base_url}/app/calls/{ended_call['id']}")
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(f"{dashboard.base_url}/app/signin")
    assert not [c for c in page.context.cookies() if c["name"] == "cw_dashboard"]
    replay = browser.new_context()
    try:
        replay.add_cookies(kept)
        tab = replay.new_page()
        tab.goto(f"{dashboard.base_url}/app/calls/{ended_call['id']}")
        assert "/app/signin" in tab.url
        assert ended_call["id"] not in tab.content()
    finally:
        replay.close()
