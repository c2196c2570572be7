"""Campaigns in a real browser: a CSV uploaded with a progress bar and a report of every refused
row, a start that runs the campaign to its end while the page follows it live, and an upload
that fails part-way showing both what was stored and what was not."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import Dashboard

FLOW: dict[str, Any] = {
    "start": "ask",
    "nodes": {
        "ask": {"ask": "Hello {{ first_name }}, do you still want the {{ plan }} plan?", "expect": "yes_no",
                "save_as": "wants_plan", "next": "bye"},
        "bye": {"say": "Thank you. Goodbye.", "end": "completed"},
    },
}
ALWAYS_OPEN = {"start": "00:00", "end": "23:59", "timezone": "UTC"}  # the test numbers' zone is asleep now


@pytest.fixture(scope="module")
def plans_agent(dashboard: Dashboard) -> dict[str, Any]:
    r = dashboard.api.post("/v1/agents", json={"name": "Plans", "dialogue": {"engine": "flow", "flow": FLOW}})
    assert r.status_code == 201, r.text
    return dict(r.json())


def new_campaign(dashboard: Dashboard, agent: dict[str, Any], name: str) -> str:
    r = dashboard.api.post("/v1/campaigns", json={
        "name": name, "agent_id": agent["id"], "calling_window": ALWAYS_OPEN, "max_concurrency": 2,
    })
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def upload(page: Any, csv: Path) -> None:
    """Choose the file and submit the form; the page's script sends it and shows the answer."""
    page.set_input_files("input[type=file][name=file]", str(csv))
    page.get_by_role("button", name="Upload").click()
    page.locator("#upload-report, main .error").first.wait_for()


def test_an_upload_shows_its_progress_and_reports_every_refused_row(
    dashboard: Dashboard, page: Any, plans_agent: dict[str, Any], tmp_path: Path
) -> None:
    cid = new_campaign(dashboard, plans_agent, "Plan renewals")
    page.goto(f"{dashboard.base_url}/app/campaigns")
    assert page.locator("main").get_by_role("link", name="Plan renewals").count() == 1
    dashboard.screenshot(page, "campaigns")
    csv = tmp_path / "renewals.csv"
    csv.write_text(
        "phone_number,first_name,plan\n"
        "+15550100001,Ann,gold\n"
        "0000,Bob,silver\n"  # not a phone number
        "+15550100031,Cy,bronze\n"
        "+15550100001,Ann again,gold\n"  # the same number twice
    )
    page.goto(f"{dashboard.base_url}/app/campaigns/{cid}")
    # Record what the progress bar does while the form is sent (the page is replaced afterwards).
    page.evaluate(
        """() => {
            const bar = document.querySelector('form[data-upload] progress');
            window.__bar = [];
            new MutationObserver(() => window.__bar.push([bar.hidden, bar.value]))
                .observe(bar, {attributes: true});
        }"""
    )
    upload(page, csv)
    assert page.evaluate("window.__bar")[0][0] is False  # the bar was shown
    assert page.url == f"{dashboard.base_url}/app/campaigns/{cid}"
    report = page.locator("#upload-report").inner_text()
    assert report.startswith("Accepted 2 of 4 rows; 2 refused"), report
    refused = page.locator("table.compact", has_text="Why it was refused").locator("tbody tr").all_inner_texts()
    assert len(refused) == 2, refused
    assert refused[0].startswith("3\t") and '"0000"' in refused[0] and "wrong number of digits" in refused[0], refused
    assert refused[1].startswith("5\t") and "duplicate of row 2" in refused[1], refused
    rows = page.locator("#campaign-rows tbody tr").all_inner_texts()
    assert [r.split("\t")[:4] for r in rows] == [
        ["2", "+15550100001", "Ann", "pending"], ["4", "+15550100031", "Cy", "pending"],
    ], rows
    dashboard.screenshot(page, "campaign-upload")


def test_a_started_campaign_runs_to_its_end_while_the_page_follows_it(
    dashboard: Dashboard, page: Any, plans_agent: dict[str, Any], tmp_path: Path
) -> None:
    cid = new_campaign(dashboard, plans_agent, "Quick check")
    csv = tmp_path / "quick.csv"
    csv.write_text("phone_number,first_name,plan\n+15550100041,Dee,gold\n+15550100042,Eve,silver\n")
    page.goto(f"{dashboard.base_url}/app/campaigns/{cid}")
    upload(page, csv)
    assert page.locator("#upload-report").inner_text().startswith("Accepted 2 of 2 rows")
    assert page.locator("[data-state=pending]").inner_text() == "2"

    assert page.locator("#campaign-controls button").all_inner_texts() == ["Start", "Cancel"]
    page.get_by_role("button", name="Start").click()
    page.wait_for_url(f"{dashboard.base_url}/app/campaigns/{cid}")
    page.evaluate("window.__samePage = true")  # gone if anything reloads the page
    # While it runs, the rows move out of "pending" as the page is told.
    page.wait_for_function(
        """() => document.querySelector('#campaign-status').textContent === 'running'
                 && document.querySelector('[data-state=pending]').textContent !== '2'""",
        timeout=60_000,
    )
    assert page.locator("#campaign-controls button").all_inner_texts() == ["Pause", "Cancel"]
    dashboard.screenshot(page, "campaign-progress")
    # To the end, with the rows table and the buttons kept current too, all without a reload.
    rows = page.locator("#campaign-rows tbody tr")
    page.wait_for_function(
        """() => document.querySelector('#campaign-status').textContent === 'completed'
                 && [...document.querySelectorAll('#campaign-rows tbody tr')]
                        .every((tr) => tr.children[3].textContent === 'completed')""",
        timeout=120_000,
    )
    assert page.evaluate("window.__samePage") is True
    assert page.locator("[data-state=completed]").inner_text() == "2"
    assert page.locator("[data-state=pending]").inner_text() == "0"
    assert page.locator("#progress-summary").inner_text() == "2 rows · 2 calls placed · 0 live"
    page.wait_for_function("() => !document.querySelector('#campaign-controls button')")
    page.wait_for_function("() => document.querySelector('#progress-outcomes').textContent.includes('completed')")
    assert page.locator("#progress-outcomes tbody").inner_text() == "completed\t2"
    assert page.locator("#progress-bar rect").evaluate_all("rs => rs.map(r => r.getAttribute('class'))") == [
        "part part-completed"
    ]
    api = dashboard.api.get(f"/v1/campaigns/{cid}").json()
    assert api["status"] == "completed" and api["progress"]["by_state"]["completed"] == 2, api

    assert [r.split("\t")[3:6] for r in rows.all_inner_texts()] == [["completed", "1", "completed"]] * 2
    rows.first.get_by_role("link", name="completed").click()
    assert page.locator("#call-status").inner_text() == "completed"
    assert page.locator("#transcript .turn-agent").first.text_content().endswith(
        "Hello Dee, do you still want the gold plan?"
    )


def test_an_upload_that_fails_part_way_shows_what_was_stored_and_what_was_not(
    dashboard: Dashboard, page: Any, plans_agent: dict[str, Any], tmp_path: Path
) -> None:
    cid = new_campaign(dashboard, plans_agent, "Big list")
    lines = ["phone_number,first_name", "12,Short"]  # row 2 is refused
    lines += [f"+1555010{n:04d},Name{n}" for n in range(4000)]  # rows 3-4002, past the first 64 KiB read
    good = "\n".join(lines).encode() + b"\n"
    assert len(good) > 64 * 1024
    csv = tmp_path / "latin1.csv"
    csv.write_bytes(good + "+15559990000,Jos\xe9\n".encode("latin-1") + b"+15559990001,Zed\n")
    page.goto(f"{dashboard.base_url}/app/campaigns/{cid}")
    upload(page, csv)

    error = page.locator("main .error").inner_text()
    assert "not UTF-8" in error and "row 4003" in error, error
    report = page.locator("#upload-report").inner_text()
    stored = dashboard.api.get(f"/v1/campaigns/{cid}").json()["progress"]["total"]
    assert stored == 4000, stored  # every good row before the bad byte, even in the same read
    assert report.startswith(f"Accepted {stored} of {stored + 1} rows; 1 refused"), (report, stored)
    # The rows read before the fault stay; the message says where reading stopped.
    assert f"the {stored + 1} rows through row {stored + 2} were ingested and stay in the campaign" in error, error
    refused = page.locator("table.compact", has_text="Why it was refused").locator("tbody tr").all_inner_texts()
    assert len(refused) == 1 and refused[0].startswith("2\t") and '"12"' in refused[0], refused
    assert page.locator("#progress-summary").inner_text().startswith(f"{stored} rows")
