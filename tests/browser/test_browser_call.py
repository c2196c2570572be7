"""Browser calls in a real Chromium whose microphone is a WAV file of a caller's answers
(``--use-file-for-fake-audio-capture``; it plays from the moment capture starts), synthesized
here with the callee's voice and placed where the agent will be listening. The answers go
through the page's AudioWorklet and WebSocket to the same call session a phone call runs.

- the embeddable widget, on a business's page of another origin, with the business's token
  endpoint (which calls ``POST /v1/web-calls`` with its key) and an ``external_id``;
- the dashboard's "Talk to this agent" page.
"""

from __future__ import annotations

import json
import threading
import wave
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from callwright.voice.tts.espeak import EspeakSynthesizer
from tests.browser.conftest import Dashboard, launch_chromium
from tests.context_endpoint import ContextEndpoint
from tests.e2e import web_caller

RATE = 16000
GREETING = "Hello {{ first_name||there }}, this is Riverside Dental."
ASK_1 = "Can you make your appointment on Monday?"
ASK_2 = "Which day suits you for a check-up: Tuesday, Wednesday or Thursday?"
FLOW: dict[str, Any] = {
    "start": "greet",
    "nodes": {
        "greet": {"say": GREETING, "next": "confirm"},
        "confirm": {"ask": ASK_1, "expect": "yes_no", "save_as": "confirmed", "next": "day"},
        "day": {"ask": ASK_2, "expect": {"choice": ["tuesday", "wednesday", "thursday"]},
                "save_as": "checkup_day", "next": "bye"},
        "bye": {"say": "Thank you. Goodbye.", "end": "completed"},
    },
}
CONNECT_ALLOWANCE_S = 3.0
"""From capture start to the agent's first audio (token, worklet, WebSocket, context fetch,
first synthesis) and the agent's turn gaps: each answer starts this long after the agent's
question should have ended. The agent waits for answers far longer (end_call_after_silence_s)."""
RESPONSE_ALLOWANCE_S = 2.0


def _agent_seconds(text: str) -> float:
    """How long the agent (espeak, its default voice) takes to say ``text``."""
    return len(EspeakSynthesizer(voice="en-us").synthesize_sync(text)) / 2 / RATE


def _caller_wav(path: Path) -> None:
    """Silence, "Yes, I can." once the first question has been asked, silence, "Tuesday,
    please." once the second has, then a long silence (the file loops)."""
    yes, tuesday = web_caller.speak("Yes, I can."), web_caller.speak("Tuesday, please.")
    first_at = _agent_seconds(GREETING.replace("{{ first_name||there }}", "Dana")) + _agent_seconds(ASK_1)
    first_at += CONNECT_ALLOWANCE_S
    second_at = first_at + len(yes) / 2 / RATE + RESPONSE_ALLOWANCE_S + _agent_seconds(ASK_2) + CONNECT_ALLOWANCE_S
    pcm = bytearray(int(first_at * RATE) * 2)
    pcm += yes
    pcm += bytes(int(second_at * RATE) * 2 - len(pcm))
    pcm += tuesday
    pcm += bytes(60 * RATE * 2)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(RATE)
        out.writeframes(bytes(pcm))


@pytest.fixture(scope="module")
def talking_browser(playwright_driver: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    wav = tmp_path_factory.mktemp("caller") / "caller.wav"
    _caller_wav(wav)
    chromium = launch_chromium(playwright_driver, [
        "--use-fake-ui-for-media-stream",
        "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-audio-capture={wav}",
    ])
    yield chromium
    chromium.close()


@pytest.fixture
def context_endpoint() -> Iterator[ContextEndpoint]:
    with ContextEndpoint() as endpoint:
        endpoint.reply({"first_name": "Dana"})
        yield endpoint


def _flow_agent(dashboard: Dashboard, context: ContextEndpoint, name: str) -> dict[str, Any]:
    r = dashboard.api.post("/v1/agents", json={
        "name": name, "dialogue": {"engine": "flow", "flow": FLOW}, "end_call_after_silence_s": 20,
        "dynamic_context": {"enabled": True, "url": context.url},
    })
    assert r.status_code == 201, r.text
    return dict(r.json())


class BusinessSite:
    """A business's own site on another origin: a page with the widget snippet, and the token
    endpoint its backend provides (it calls ``POST /v1/web-calls`` with the business's key)."""

    def __init__(self, dashboard: Dashboard, agent_id: str, external_id: str) -> None:
        self.tickets: list[dict[str, Any]] = []
        site = self
        page = (
            "<!doctype html><html><head><title>Acme</title></head><body><h1>Acme Dental</h1>"
            f'<script src="{dashboard.base_url}/app/static/widget.js" data-token-url="/token" '
            f'data-external-id="{external_id}" data-label="Talk to us" async></script></body></html>'
        ).encode()

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self._answer(200, "text/html", page)

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
                r = dashboard.api.post("/v1/web-calls", json={
                    "agent_id": agent_id, "external_id": body.get("external_id"), "metadata": {"page": "/"},
                })
                site.tickets.append(r.json())
                self._answer(r.status_code, "application/json", r.content)

            def _answer(self, status: int, kind: str, data: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True).start()
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def _watched_page(browser: Any) -> tuple[Any, Any, list[str]]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(15_000)
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda exc: errors.append(str(exc)))
    return context, tab, errors


def _said_by_caller(call: dict[str, Any]) -> str:
    return " ".join(t["text"].lower() for t in call["transcript"] if t["role"] == "user")


def test_the_widget_on_a_business_page_calls_the_agent_with_the_callers_external_id(
    dashboard: Dashboard, talking_browser: Any, context_endpoint: ContextEndpoint
) -> None:
    agent = _flow_agent(dashboard, context_endpoint, "Widget agent")
    site = BusinessSite(dashboard, agent["id"], "cust-77")
    context, tab, errors = _watched_page(talking_browser)
    try:
        tab.goto(site.url)
        tab.get_by_role("button", name="Talk to us").click()
        tab.get_by_role("button", name="Hang up").wait_for()
        assert len(site.tickets) == 1 and "call_id" in site.tickets[0], site.tickets
        call = dashboard.server.wait_for_end(site.tickets[0]["call_id"], timeout_s=90)
        tab.get_by_role("button", name="Talk to us").wait_for()
        dashboard.screenshot(tab, "widget-after-call")
    finally:
        context.close()
        site.close()
    assert not errors, errors
    assert call["status"] == "completed" and call["end_reason"] == "agent_hangup", call
    assert call["medium"] == "web" and call["call_source"] == "web"
    assert call["results"]["confirmed"] is True, call
    assert call["results"]["checkup_day"] == "tuesday", call
    said = _said_by_caller(call)
    assert "yes" in said and "tuesday" in said, call["transcript"]
    seen = context_endpoint.requests
    assert len(seen) == 1
    assert seen[0].headers["x-medium"] == "web"
    assert seen[0].headers["x-external-id"] == "cust-77"


def test_talk_to_this_agent_in_the_dashboard_holds_a_conversation_shown_live(
    dashboard: Dashboard, talking_browser: Any, context_endpoint: ContextEndpoint
) -> None:
    agent = _flow_agent(dashboard, context_endpoint, "Dashboard talk agent")
    context, tab, errors = _watched_page(talking_browser)
    try:
        dashboard.sign_in(tab)
        tab.goto(f"{dashboard.base_url}/app/agents/{agent['id']}/talk")
        assert "/app/static/widget.js" in tab.locator("#snippet").inner_text()
        tab.get_by_role("button", name="Start talking").click()
        tab.locator("#talk[data-call-id]").wait_for(state="attached")
        call_id = tab.locator("#talk").get_attribute("data-call-id")
        assert call_id
        tab.locator("#talk-transcript li.turn-user").first.wait_for(timeout=60_000)
        call = dashboard.server.wait_for_end(call_id, timeout_s=90)
        tab.locator("#talk[data-ended='true']").wait_for(state="attached")
        dashboard.screenshot(tab, "talk-to-agent")
        shown = tab.locator("#talk-transcript").inner_text().lower()
    finally:
        context.close()
    assert not errors, errors
    assert call["status"] == "completed", call
    assert call["medium"] == "web" and call["call_source"] == "dashboard" and call["direction"] == "inbound"
    assert call["results"]["confirmed"] is True and call["results"]["checkup_day"] == "tuesday", call
    assert "tuesday" in _said_by_caller(call)
    assert "dana" in shown and "tuesday" in shown, shown


def test_hanging_up_in_the_dashboard_ends_the_call_as_the_callers_hang_up(
    dashboard: Dashboard, talking_browser: Any, context_endpoint: ContextEndpoint
) -> None:
    agent = _flow_agent(dashboard, context_endpoint, "Dashboard hang-up agent")
    context, tab, errors = _watched_page(talking_browser)
    try:
        dashboard.sign_in(tab)
        tab.goto(f"{dashboard.base_url}/app/agents/{agent['id']}/talk")
        tab.get_by_role("button", name="Start talking").click()
        tab.locator("#talk-transcript li.turn-agent").first.wait_for(timeout=30_000)
        call_id = tab.locator("#talk").get_attribute("data-call-id")
        assert call_id
        tab.get_by_role("button", name="Hang up").click()
        tab.locator("#talk[data-ended='true']").wait_for(state="attached")
        call = dashboard.server.wait_for_end(call_id, timeout_s=30)
        status = tab.locator("#talk-status").inner_text()
    finally:
        context.close()
    assert not errors, errors
    assert call["status"] == "completed" and call["end_reason"] == "user_hangup", call
    assert status == "call ended"
    assert not [t for t in call["transcript"] if t["role"] == "user"]
