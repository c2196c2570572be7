"""Calls in a real browser: "Call a number" dials the simulated carrier and the call's page shows
the conversation live over Server-Sent Events; the record plays its stereo recording and shows
latency, results and webhook deliveries (with Retry); the list narrows with its filters."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from callwright.demo import DEMO_FLOW
from tests.browser.conftest import Dashboard, off_loop
from tests.support import set_call_columns

LIVE = {"queued", "dialing", "ringing", "in_progress"}


class WebhookReceiver:
    """A customer's webhook endpoint on loopback: down (503, retry in an hour) until ``up`` is set."""

    def __init__(self) -> None:
        self.up = threading.Event()
        self.received: list[tuple[str, str]] = []  # (webhook-id, the call's id) per attempt
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
                receiver.received.append((self.headers.get("webhook-id", ""), body["data"]["id"]))
                if receiver.up.is_set():
                    self.send_response(204)
                else:
                    self.send_response(503)
                    self.send_header("Retry-After", "3600")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/hooks"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="module")
def receiver() -> Iterator[WebhookReceiver]:
    hooks = WebhookReceiver()
    yield hooks
    hooks.close()


@pytest.fixture(scope="module")
def flow_agent(dashboard: Dashboard, receiver: WebhookReceiver) -> dict[str, Any]:
    """The demo's appointment flow, with a webhook target that is down until a test brings it up."""
    r = dashboard.api.post("/v1/agents", json={
        "name": "Appointments", "dialogue": {"engine": "flow", "flow": DEMO_FLOW}, "end_call_after_silence_s": 6,
    })
    assert r.status_code == 201, r.text
    agent: dict[str, Any] = r.json()
    hook = dashboard.api.post(
        f"/v1/agents/{agent['id']}/webhooks", json={"url": receiver.url, "events": ["call.ended"]}
    )
    assert hook.status_code == 201, hook.text
    return agent


@pytest.fixture(scope="module")
def finished_call(dashboard: Dashboard, flow_agent: dict[str, Any]) -> dict[str, Any]:
    """A call that went through the whole flow: confirmed, then the code keyed on the keypad."""
    r = dashboard.api.post("/v1/calls", json={
        "agent_id": flow_agent["id"], "to": "+15550100021",
        "simulated_callee": {"says": ["yes"], "dtmf": {"verify": "4567"}},
    })
    assert r.status_code == 201, r.text
    return dashboard.server.wait_for_end(r.json()["id"])


def test_calling_a_number_shows_the_conversation_live_until_the_call_ends(
    dashboard: Dashboard, page: Any, flow_agent: dict[str, Any]
) -> None:
    page.goto(f"{dashboard.base_url}/app/calls/new")
    page.select_option("select[name=agent_id]", label="Appointments")
    page.fill("input[name=to]", "+1 555 010 0001")  # the simulated callee who says "yes"
    dashboard.screenshot(page, "call-new")
    page.get_by_role("button", name="Call").click()
    page.wait_for_url(f"{dashboard.base_url}/app/calls/*")
    call_id = page.url.rsplit("/", 1)[1]
    assert page.locator("#call-status").inner_text() in LIVE
    page.evaluate("window.__samePage = true")  # gone if anything reloads the page

    # Turns from both sides arrive while the call is still going.
    page.wait_for_function(
        """() => document.querySelector('#call-status').textContent === 'in_progress'
                 && document.querySelector('#transcript .turn-agent')
                 && document.querySelector('#transcript .turn-user')""",
        timeout=90_000,
    )
    dashboard.screenshot(page, "call-live")
    # At its end the record replaces the live view, still without a reload.
    page.locator("audio").wait_for(timeout=120_000)
    assert page.evaluate("window.__samePage") is True
    final = dashboard.server.wait_for_end(call_id)
    assert page.locator("#call-status").inner_text() == final["status"] == "completed"
    assert page.locator("#live-note").count() == 0
    shown = page.locator("#transcript li").all_text_contents()
    assert shown == [f"{t['role']} {t['text']}" for t in final["transcript"]]
    assert final["call_source"] == "dashboard" and final["to"] == "+15550100001"


def test_the_live_view_is_fed_by_one_event_stream_not_by_polling(
    dashboard: Dashboard, page: Any, flow_agent: dict[str, Any]
) -> None:
    r = dashboard.api.post("/v1/calls", json={
        "agent_id": flow_agent["id"], "to": "+15550100022",
        "simulated_callee": {"says": ["yes"], "dtmf": {"verify": "4567"}},
    })
    call_id = r.json()["id"]
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    page.goto(f"{dashboard.base_url}/app/calls/{call_id}")
    dashboard.server.wait_for_end(call_id)
    page.locator("audio").wait_for(timeout=30_000)
    own = [u.removeprefix(dashboard.base_url) for u in requests if u.startswith(dashboard.base_url)]
    # Static files, and the recording the player reads the length of once it is shown, are not polls.
    pages = [u for u in own if not u.startswith("/app/static/") and not u.endswith("/recording")]
    # The page, its one stream for the whole call, and the record fetched once at the end.
    assert pages == [f"/app/calls/{call_id}", f"/app/calls/{call_id}/events", f"/app/calls/{call_id}"], own


def test_hanging_up_from_the_page_ends_the_call_and_shows_its_record(
    dashboard: Dashboard, page: Any, flow_agent: dict[str, Any]
) -> None:
    r = dashboard.api.post("/v1/calls", json={"agent_id": flow_agent["id"], "to": "+15550100007"})  # silent
    call_id = r.json()["id"]
    page.goto(f"{dashboard.base_url}/app/calls/{call_id}")
    page.wait_for_function(
        """() => document.querySelector('#call-status').textContent === 'in_progress'
                 && document.querySelector('#transcript .turn-agent')""",
        timeout=60_000,
    )
    page.get_by_role("button", name="Hang up / cancel").click()
    page.get_by_role("button", name="Hang up / cancel").wait_for(state="detached", timeout=30_000)
    final = dashboard.server.wait_for_end(call_id)
    page.locator("#live-note").wait_for(state="detached")
    assert page.locator("#call-status").inner_text() == final["status"] == "canceled", final
    assert f"({final['end_reason']})" in page.locator("main p", has_text="Status:").inner_text()


def test_a_call_scheduled_for_later_can_be_canceled_from_its_page(
    dashboard: Dashboard, page: Any, flow_agent: dict[str, Any]
) -> None:
    r = dashboard.api.post("/v1/calls", json={
        "agent_id": flow_agent["id"], "to": "+15550100001", "scheduled_for": "2030-01-02T15:00:00Z",
    })
    assert r.status_code == 201 and r.json()["status"] == "scheduled", r.text
    page.goto(f"{dashboard.base_url}/app/calls/{r.json()['id']}")
    assert page.locator("#scheduled-for").inner_text() == "Scheduled for 2030-01-02 15:00 UTC."
    page.get_by_role("button", name="Hang up / cancel").click()
    page.wait_for_load_state()
    assert page.locator("#call-status").inner_text() == "canceled"
    assert page.get_by_role("button", name="Hang up / cancel").count() == 0
    assert dashboard.api.get(f"/v1/calls/{r.json()['id']}").json()["status"] == "canceled"


def test_the_record_plays_the_stereo_recording(dashboard: Dashboard, page: Any, finished_call: dict[str, Any]) -> None:
    page.goto(f"{dashboard.base_url}/app/calls/{finished_call['id']}")
    played = page.evaluate(
        """async () => {
            const audio = document.querySelector('audio');
            await audio.play();
            if (audio.readyState < 1) {
                await new Promise((ok) => audio.addEventListener('loadedmetadata', ok, {once: true}));
            }
            const wav = await (await fetch(audio.currentSrc)).arrayBuffer();
            const decoded = await new OfflineAudioContext(1, 1, 8000).decodeAudioData(wav);
            return {readyState: audio.readyState, duration: audio.duration, paused: audio.paused,
                    channels: decoded.numberOfChannels, seconds: decoded.duration};
        }"""
    )
    assert played["readyState"] >= 1 and played["duration"] > 1 and not played["paused"], played
    assert played["channels"] == 2, played
    assert abs(played["seconds"] - played["duration"]) < 0.1, played
    assert abs(played["duration"] - finished_call["duration_ms"] / 1000) < 3, (played, finished_call["duration_ms"])
    page.evaluate("() => document.querySelector('audio').pause()")  # the player shows its length and place
    dashboard.screenshot(page, "call-record")


def test_the_record_shows_latency_per_turn_and_the_results(
    dashboard: Dashboard, page: Any, finished_call: dict[str, Any]
) -> None:
    page.goto(f"{dashboard.base_url}/app/calls/{finished_call['id']}")
    turns = finished_call["latency"]["turns"]
    assert len(turns) >= 2, finished_call["latency"]
    rows = page.locator("svg.latency g.latency-turn")
    titles = [rows.nth(i).locator("title").first.text_content() for i in range(rows.count())]
    assert titles == [f"turn {i + 1}: {round(t['total_ms'])} ms" for i, t in enumerate(turns)]
    # Each turn's bar is its stages end to end, the slowest turn the longest bar.
    widths = [rows.nth(i).locator("rect").evaluate_all("rs => rs.map(r => r.width.baseVal.value)")
              for i in range(rows.count())]
    stages = rows.nth(0).locator("rect title").all_text_contents()
    assert stages and all(s.split(":")[0] in ("endpointing", "stt", "dialogue", "tools", "tts", "overhead")
                          for s in stages), stages
    slowest = max(range(len(turns)), key=lambda i: turns[i]["total_ms"])
    assert max(sum(w) for w in widths) == sum(widths[slowest]), widths
    assert abs(sum(widths[slowest]) - 480) < 2, widths
    results = page.locator("pre.json").first.inner_text()
    assert '"confirmed": true' in results and '"verification_code": "4567"' in results, results
    assert page.locator("#call-status").inner_text() == "completed"
    assert page.locator("audio").count() == 1


def test_a_failed_webhook_delivery_is_sent_again_with_retry(
    dashboard: Dashboard, page: Any, finished_call: dict[str, Any], receiver: WebhookReceiver
) -> None:
    url = f"{dashboard.base_url}/app/calls/{finished_call['id']}"
    page.goto(url)
    row = page.locator("table tr", has_text="call.ended")
    for _ in range(100):  # the first attempt is made as the call ends; the receiver is down
        if row.count() and "503" in row.inner_text():
            break
        page.wait_for_timeout(200)
        page.goto(url)
    assert "pending" in row.inner_text() and "503" in row.inner_text(), row.inner_text()

    def attempts() -> list[str]:
        return [hook_id for hook_id, call_id in receiver.received if call_id == finished_call["id"]]

    assert len(attempts()) == 1
    receiver.up.set()  # the next scheduled attempt is an hour away (Retry-After): only Retry sends it now
    row.get_by_role("button", name="Retry").click()
    page.wait_for_url(url)
    for _ in range(100):
        if "succeeded" in row.inner_text():
            break
        page.wait_for_timeout(200)
        page.goto(url)
    assert "succeeded" in row.inner_text(), row.inner_text()
    assert len(attempts()) == 2 and len(set(attempts())) == 1  # sent again, with the same webhook-id


def test_the_calls_list_narrows_by_each_filter(
    dashboard: Dashboard, page: Any, flow_agent: dict[str, Any]
) -> None:
    api = dashboard.api
    other = api.post("/v1/agents", json={"name": "Collections", "dialogue": {"engine": "flow", "flow": DEMO_FLOW}})
    campaign = api.post("/v1/campaigns", json={"name": "Spring reminders", "agent_id": flow_agent["id"]}).json()
    busy = api.post("/v1/calls", json={"agent_id": flow_agent["id"], "to": "+15550100002"}).json()
    failed = api.post("/v1/calls", json={
        "agent_id": other.json()["id"], "to": "+15550100004", "call_source": "crm_sync"}).json()
    for call in (busy, failed):
        dashboard.server.wait_for_end(call["id"])
    # Rows as a campaign and an earlier day would have left them (a campaign's call takes minutes).
    off_loop(set_call_columns, dashboard.server.db_url, busy["id"], campaign_id=uuid.UUID(campaign["id"]))
    off_loop(set_call_columns, dashboard.server.db_url, failed["id"],
             created_at=datetime(2026, 3, 14, 9, 30, tzinfo=UTC))

    def shown() -> set[str]:
        links = page.locator("table tbody a[href^='/app/calls/']")
        return {href.rsplit("/", 1)[1] for href in (links.nth(i).get_attribute("href") for i in range(links.count()))}

    page.goto(f"{dashboard.base_url}/app/calls")
    assert {busy["id"], failed["id"]} <= shown()
    dashboard.screenshot(page, "calls")

    def narrowed(**choice: str) -> set[str]:
        page.goto(f"{dashboard.base_url}/app/calls")
        for name, value in choice.items():
            field = page.locator(f"[name={name}]")
            if field.evaluate("f => f.tagName") == "SELECT":
                field.select_option(label=value)
            else:
                field.fill(value)
        page.get_by_role("button", name="Filter").click()
        page.wait_for_load_state()
        for name, value in choice.items():  # the form keeps what was chosen
            field = page.locator(f"[name={name}]")
            if field.evaluate("f => f.tagName") == "SELECT":
                assert field.evaluate("f => f.options[f.selectedIndex].text") == value
            else:
                assert field.input_value() == value
        return shown()

    assert narrowed(status="busy") == {busy["id"]}
    assert narrowed(status="failed") == {failed["id"]}
    assert narrowed(agent_id="Collections") == {failed["id"]}
    assert narrowed(campaign_id="Spring reminders") == {busy["id"]}
    assert narrowed(call_source="crm_sync") == {failed["id"]}
    assert narrowed(created_after="2026-03-14", created_before="2026-03-15") == {failed["id"]}
    assert failed["id"] not in narrowed(created_after="2026-03-15")
    assert narrowed(status="busy", call_source="crm_sync") == set()
    assert "No calls match." in page.locator("table tbody").inner_text()
