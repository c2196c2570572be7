"""The dashboard's live view of a real simulated call: Server-Sent Events bring the transcript
turn by turn while the call is spoken, and end when the call does."""

from __future__ import annotations

import json
import re
from typing import Any

import httpx
from tests.e2e.conftest import VoiceServer


def test_the_live_view_streams_a_call_from_the_first_turn_to_its_end(
    voice_server: VoiceServer, flow_agent: dict[str, Any]
) -> None:
    key = str(voice_server.api.headers["Authorization"]).removeprefix("Bearer ")
    with httpx.Client(base_url=voice_server.base_url, timeout=120) as browser:
        form = browser.get("/app/signin").text
        token = re.search(r'name="csrf_token" value="([^"]+)"', form)
        assert token
        assert browser.post("/app/signin", data={"api_key": key, "csrf_token": token.group(1)}).status_code == 303
        r = voice_server.api.post("/v1/calls", json={
            "agent_id": flow_agent["id"], "to": "+15550100021",
            "simulated_callee": {"says": ["yes"], "dtmf": {"verify": "4567"}}})
        assert r.status_code == 201, r.text
        call_id = r.json()["id"]
        assert "Hang up / cancel" in browser.get(f"/app/calls/{call_id}").text
        events: list[tuple[str, Any]] = []
        with browser.stream("GET", f"/app/calls/{call_id}/events") as stream:
            name = ""
            for line in stream.iter_lines():
                if line.startswith("event: "):
                    name = line.removeprefix("event: ")
                elif line.startswith("data: "):
                    events.append((name, json.loads(line.removeprefix("data: "))))
    statuses = [data["status"] for name, data in events if name == "status"]
    assert "in_progress" in statuses and statuses[-1] == "completed", statuses
    assert events[-1] == ("end", {"status": "completed"})
    # What the page shows, built from the events as the page's script builds it.
    shown: list[dict[str, Any]] = []
    shown_before_the_end: list[str] = []
    for name, data in events:
        if name == "turn":
            turn = {k: v for k, v in data.items() if k != "index"}
            shown[data["index"]:data["index"] + 1] = [turn]
        elif name == "status" and data["status"] == "completed":
            shown_before_the_end = [t["role"] for t in shown]
        elif name == "transcript":
            shown = list(data)
    final = voice_server.wait_for_end(call_id)
    assert shown == final["transcript"]
    # The turns arrived while the call was going, not all at once at its end.
    assert "agent" in shown_before_the_end and "user" in shown_before_the_end, shown_before_the_end
