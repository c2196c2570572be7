"""Analytics in a real browser: simulated calls placed from different sources, then their counts,
answer rates and durations by source as charts and a table."""

from __future__ import annotations

import re
from typing import Any

from playwright.sync_api import expect

from tests.browser.conftest import Dashboard

GOODBYE_FLOW = {"start": "hi", "nodes": {"hi": {"say": "Hello, this is a short test call. Goodbye.",
                                                 "end": "completed"}}}
NO_ANSWER = "+15550100003"  # the simulated carrier's number that rings out


def place(dashboard: Dashboard, agent_id: str, call_source: str, to: str) -> str:
    r = dashboard.api.post("/v1/calls", json={"agent_id": agent_id, "to": to, "call_source": call_source})
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def test_analytics_by_source_shows_calls_answer_rate_and_duration(dashboard: Dashboard, page: Any) -> None:
    agent = dashboard.api.post("/v1/agents", json={
        "name": "Short caller", "dialogue": {"engine": "flow", "flow": GOODBYE_FLOW}}).json()
    placed = [
        place(dashboard, agent["id"], "crm", "+15550100021"),
        place(dashboard, agent["id"], "crm", "+15550100022"),
        place(dashboard, agent["id"], "crm", NO_ANSWER),
        place(dashboard, agent["id"], "website", "+15550100023"),
    ]
    ended = [dashboard.server.wait_for_end(call_id) for call_id in placed]
    assert [c["status"] for c in ended] == ["completed", "completed", "no_answer", "completed"]

    page.goto(f"{dashboard.base_url}/app/analytics?group_by=call_source")
    crm = page.locator('#analytics-table tr[data-key="crm"] td')
    expect(crm.nth(1)).to_have_text("3")  # calls
    expect(crm.nth(2)).to_have_text("2")  # answered
    expect(crm.nth(3)).to_have_text("67%")  # answer rate: 2 of 3 placed
    expect(crm.nth(7)).to_have_text(re.compile(r"^\d+\.\d s$"))  # average duration
    website = page.locator('#analytics-table tr[data-key="website"] td')
    expect(website.nth(1)).to_have_text("1")
    expect(website.nth(3)).to_have_text("100%")
    expect(page.locator("#chart-calls title", has_text="crm: 3 calls")).to_have_count(1)
    expect(page.locator("#chart-answer-rate title", has_text="crm: 67%")).to_have_count(1)
    expect(page.locator("#chart-answer-rate title", has_text="website: 100%")).to_have_count(1)
    expect(page.locator("#chart-duration rect")).to_have_count(2)  # one bar per source
    dashboard.screenshot(page, "analytics")

    page.select_option("#analytics-filters select[name=group_by]", "agent_id")
    page.click("#analytics-filters button[type=submit]")
    row = page.locator("#analytics-table tbody tr", has_text="Short caller")
    expect(row.locator("td").nth(1)).to_have_text("4")
