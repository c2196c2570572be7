"""Open speech over the phone: a flow asks an open question, the simulated callee answers in
real audio over the Media Streams WebSocket, and the embedded default transcriber (Whisper for
open speech) stores the answer as said."""

from __future__ import annotations

from typing import Any

from tests.e2e.conftest import VoiceServer

ANSWER = "My name is John Smith and I need a new appointment."
OPEN_QUESTION_FLOW: dict[str, Any] = {
    "start": "ask",
    "nodes": {
        "ask": {
            "ask": "Hello, this is Riverside Dental. Please tell me your name and what you need.",
            "expect": "text",
            "save_as": "request",
            "next": "confirm",
        },
        "confirm": {
            "ask": "Thank you. Shall I book it?",
            "expect": "yes_no",
            "save_as": "book",
            "next": "bye",
        },
        "bye": {"say": "Goodbye.", "end": "completed"},
    },
}


def test_an_open_answer_is_stored_as_said(voice_server: VoiceServer) -> None:
    r = voice_server.api.post(
        "/v1/agents", json={"name": "Open question", "dialogue": {"engine": "flow", "flow": OPEN_QUESTION_FLOW}}
    )
    assert r.status_code == 201, r.text
    assert r.json()["transcriber"]["provider"] == "auto"
    r = voice_server.api.post(
        "/v1/calls",
        json={"agent_id": r.json()["id"], "to": "+15550100001", "simulated_callee": {"says": [ANSWER, "yes"]}},
    )
    assert r.status_code == 201, r.text
    call = voice_server.wait_for_end(r.json()["id"])
    assert call["status"] == "completed", call
    request = call["results"]["request"].lower()
    assert "john smith" in request and "appointment" in request, call["results"]
    assert call["results"]["book"] is True  # the yes/no turn after it, under pocketsphinx's grammar
    user_turns = [t["text"].lower() for t in call["transcript"] if t["role"] == "user"]
    assert any("john smith" in text for text in user_turns)
