"""Whatever a user typed is shown as text in a real browser, never run: agent and campaign names,
transcripts (rendered by the server and added live by the page's script), call errors and
results, CSV cells in the upload report and the rows table, a form value sent back with an error.

Each check asserts both that nothing ran (``window.__pwned``) and that no element was made from
the text (the Content-Security-Policy would stop the script even if escaping failed; the ``img``
would still be created), and that the text is shown literally."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest

from callwright.demo import DEMO_FLOW
from tests.browser.conftest import Dashboard, off_loop
from tests.support import set_call_columns

PAYLOAD = '<script>window.__pwned=1</script><img src=x onerror="window.__pwned=2">'
ATTRIBUTE_PAYLOAD = '"><img src=x onerror="window.__pwned=3">'


def turn(role: str, text: str, at_ms: int = 0) -> dict[str, Any]:
    """A transcript turn as the media session stores it."""
    return {"role": role, "text": text, "start_ms": at_ms, "end_ms": at_ms + 900}


def assert_shown_as_text(page: Any, text: str = PAYLOAD) -> None:
    assert page.evaluate("window.__pwned") is None
    assert page.locator("img[src=x]").count() == 0
    scripts = page.locator("script").evaluate_all("ss => ss.map(s => s.getAttribute('src'))")
    assert all(src and src.startswith("/app/static/") for src in scripts), scripts
    assert text in page.locator("body").text_content()


@pytest.fixture(scope="module")
def agent(dashboard: Dashboard) -> dict[str, Any]:
    r = dashboard.api.post("/v1/agents", json={"name": PAYLOAD, "dialogue": {"engine": "flow", "flow": DEMO_FLOW}})
    assert r.status_code == 201, r.text
    return dict(r.json())


@pytest.fixture(scope="module")
def campaign(dashboard: Dashboard, agent: dict[str, Any]) -> dict[str, Any]:
    r = dashboard.api.post("/v1/campaigns", json={"name": PAYLOAD, "agent_id": agent["id"]})
    assert r.status_code == 201, r.text
    return dict(r.json())


@pytest.fixture(scope="module")
def ended_call(dashboard: Dashboard, agent: dict[str, Any]) -> str:
    r = dashboard.api.post("/v1/calls", json={"agent_id": agent["id"], "to": "+15550100002"})  # busy
    assert r.status_code == 201, r.text
    return str(dashboard.server.wait_for_end(r.json()["id"])["id"])


def test_an_agents_name_is_text_on_every_page_that_shows_it(
    dashboard: Dashboard, page: Any, agent: dict[str, Any], ended_call: str
) -> None:
    for path in (
        "/app/agents", f"/app/agents/{agent['id']}", "/app/calls/new", "/app/calls", "/app/campaigns",
    ):
        page.goto(f"{dashboard.base_url}{path}")
        assert_shown_as_text(page)
    page.goto(f"{dashboard.base_url}/app/analytics?group_by=agent_id")
    assert_shown_as_text(page, text="")


def test_a_campaigns_name_is_text_on_its_page_the_list_and_the_calls_filter(
    dashboard: Dashboard, page: Any, campaign: dict[str, Any]
) -> None:
    page.goto(f"{dashboard.base_url}/app/campaigns/{campaign['id']}")
    assert_shown_as_text(page)
    assert page.title() == f"{PAYLOAD} · Callwright"
    assert page.locator("h1").inner_text() == PAYLOAD
    for path in ("/app/campaigns", "/app/calls"):
        page.goto(f"{dashboard.base_url}{path}")
        assert_shown_as_text(page)


def test_a_stored_transcript_error_and_results_are_text_on_the_calls_page(
    dashboard: Dashboard, page: Any, ended_call: str
) -> None:
    off_loop(
        set_call_columns, dashboard.server.db_url, ended_call,
        transcript=[turn("agent", "Hello?"), turn("user", PAYLOAD, 1000)],
        error=PAYLOAD, results={"note": PAYLOAD},
    )
    page.goto(f"{dashboard.base_url}/app/calls/{ended_call}")
    assert_shown_as_text(page)
    assert page.locator("#transcript .turn-user").text_content() == f"user {PAYLOAD}"
    assert page.locator("main p.error").inner_text() == PAYLOAD
    assert PAYLOAD.replace('"', '\\"') in page.locator("pre.json").first.text_content()


def test_a_transcript_added_live_by_the_pages_script_is_text(
    dashboard: Dashboard, page: Any, agent: dict[str, Any]
) -> None:
    r = dashboard.api.post("/v1/calls", json={"agent_id": agent["id"], "to": "+15550100002"})
    call_id = dashboard.server.wait_for_end(r.json()["id"])["id"]
    db = dashboard.server.db_url
    # As the media session leaves the row while a call is spoken: the page opens live.
    off_loop(set_call_columns, db, call_id, status="in_progress", ended_at=None, transcript=[])
    page.goto(f"{dashboard.base_url}/app/calls/{call_id}")
    assert page.locator("#transcript li").count() == 0
    off_loop(set_call_columns, db, call_id, transcript=[turn("user", PAYLOAD)])
    page.locator("#transcript .turn-user").wait_for()  # a "turn" event
    assert_shown_as_text(page)
    assert page.locator("#transcript .turn-user").text_content() == f"user {PAYLOAD}"

    # The "transcript" event then replaces the list, and the record replaces the live view:
    # anything either made from the text would be caught here, however briefly it lived.
    page.evaluate(
        """() => {
            window.__made = [];
            new MutationObserver((changes) => changes.forEach((c) => c.addedNodes.forEach((n) => {
                if (n.querySelectorAll) {
                    for (const e of [n, ...n.querySelectorAll('*')]) {
                        if (['IMG', 'SCRIPT'].includes(e.tagName)) window.__made.push(e.outerHTML);
                    }
                }
            }))).observe(document, {childList: true, subtree: true});
        }"""
    )
    final = [turn("agent", PAYLOAD), turn("user", PAYLOAD, 1000)]
    off_loop(set_call_columns, db, call_id, status="completed", transcript=final)
    page.locator("#live-note").wait_for(state="detached")
    assert page.evaluate("window.__made") == []
    assert_shown_as_text(page)
    assert page.locator("#transcript li").all_text_contents() == [f"agent {PAYLOAD}", f"user {PAYLOAD}"]


def test_csv_cells_are_text_in_the_upload_report_and_the_rows_table(
    dashboard: Dashboard, page: Any, agent: dict[str, Any], tmp_path: Path
) -> None:
    cid = dashboard.api.post("/v1/campaigns", json={"name": "Cells", "agent_id": agent["id"]}).json()["id"]
    cell = PAYLOAD.replace('"', '""')
    csv = tmp_path / "cells.csv"
    csv.write_text(f'phone_number,first_name\n"{cell}",Ann\n+15550100051,"{cell}"\n')
    page.goto(f"{dashboard.base_url}/app/campaigns/{cid}")
    page.set_input_files("input[type=file][name=file]", str(csv))
    page.get_by_role("button", name="Upload").click()
    page.locator("#upload-report").wait_for()
    assert_shown_as_text(page)
    refused = page.locator("table.compact", has_text="Why it was refused").locator("tbody td").nth(1)
    assert refused.text_content().startswith('phone_number "<script>window.__pwned=1</script><img src=x onerror=')
    rows = page.locator("table", has_text="Attempts").last.locator("tbody tr")
    assert rows.count() == 1 and PAYLOAD in rows.first.text_content()


def test_a_value_sent_back_with_an_error_stays_inside_its_field(
    dashboard: Dashboard, page: Any, agent: dict[str, Any]
) -> None:
    page.goto(f"{dashboard.base_url}/app/calls/new")
    page.select_option("select[name=agent_id]", value=agent["id"])
    page.fill("input[name=to]", ATTRIBUTE_PAYLOAD)
    page.fill("textarea[name=variables]", f"</textarea>{PAYLOAD}")
    page.get_by_role("button", name="Call").click()
    page.locator("main p.error").wait_for()
    assert page.evaluate("window.__pwned") is None and page.locator("img[src=x]").count() == 0
    assert page.input_value("input[name=to]") == ATTRIBUTE_PAYLOAD
    assert page.input_value("textarea[name=variables]") == f"</textarea>{PAYLOAD}"
    calls = dashboard.api.get("/v1/conversations", params={"agent_id": agent["id"], "call_source": "dashboard"}).json()
    assert calls["data"] == []


def test_an_error_page_shows_the_address_it_refused_as_text(dashboard: Dashboard, page: Any) -> None:
    response = page.goto(f"{dashboard.base_url}/app/calls/{uuid.uuid4()}")
    assert response.status == 404
    assert page.evaluate("window.__pwned") is None
    response = page.goto(f"{dashboard.base_url}/app/calls?created_after=" + "%3Cimg%20src%3Dx%20onerror%3D1%3E")
    assert response.status == 422
    assert page.locator("img[src=x]").count() == 0
    assert "<img src=x onerror=1>" in page.locator("main .error").inner_text()
