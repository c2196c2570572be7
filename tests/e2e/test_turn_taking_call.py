"""Turn-taking over the phone: the simulated callee pauses mid-number, says "uh-huh" while the
agent talks, and interrupts it for real; the server's end-of-turn and barge-in rules decide,
on real audio through the Media Streams WebSocket and the embedded recognisers.

The three calls are placed at once (they run at real-time pace), then each test checks one."""

from __future__ import annotations

from typing import Any

import pytest
from tests.e2e.conftest import VoiceServer

from callwright.dialogue.answers import parse_digits
from callwright.dialogue.base import UserInput

LONG_SAY = (
    "Thank you for calling Riverside Dental. We are open from eight in the morning until six in the "
    "evening on weekdays, and from nine until one on Saturdays. Parking is free behind the building."
)


def flow_agent(voice_server: VoiceServer, name: str, nodes: dict[str, Any], start: str) -> str:
    r = voice_server.api.post(
        "/v1/agents",
        json={"name": name, "dialogue": {"engine": "flow", "flow": {"start": start, "nodes": nodes}}},
    )
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def place(voice_server: VoiceServer, agent_id: str, callee: dict[str, Any]) -> str:
    r = voice_server.api.post(
        "/v1/calls", json={"agent_id": agent_id, "to": "+15550100001", "simulated_callee": callee}
    )
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def ended(voice_server: VoiceServer, call_id: str) -> dict[str, Any]:
    record = voice_server.wait_for_end(call_id)
    assert record["status"] == "completed", record
    return record


def user_turns(record: dict[str, Any]) -> list[str]:
    return [t["text"] for t in record["transcript"] if t["role"] == "user"]


@pytest.fixture(scope="module")
def placed(voice_server: VoiceServer) -> dict[str, str]:
    """The module's three calls, placed together; each test waits for its own."""
    pausing = flow_agent(
        voice_server,
        "Phone number",
        {
            "ask": {
                "ask": "What is your phone number?", "expect": "digits", "length": 10,
                "save_as": "phone", "next": "bye",
            },
            "bye": {"say": "Thank you. Goodbye.", "end": "completed"},
        },
        "ask",
    )
    backchannel = flow_agent(
        voice_server,
        "Backchannel",
        {
            "info": {"say": LONG_SAY, "next": "ask"},
            "ask": {"ask": "Would you like to book a visit?", "expect": "yes_no", "save_as": "book", "next": "bye"},
            "bye": {"say": "Goodbye.", "end": "completed"},
        },
        "info",
    )
    interrupted = flow_agent(
        voice_server,
        "Interrupted",
        {
            "info": {"say": LONG_SAY, "next": "ask"},
            "ask": {"ask": "What can I do for you?", "expect": "text", "save_as": "request", "next": "bye"},
            "bye": {"say": "Goodbye.", "end": "completed"},
        },
        "info",
    )
    # A 900 ms pause: a plain 500 ms silence rule would take "five five five" as the answer.
    line = "five five five <pause 900ms> one two three four five six seven"
    return {
        "pausing": place(voice_server, pausing, {"says": [line, line]}),
        "backchannel": place(voice_server, backchannel, {"says": ["yes"], "backchannels": ["uh-huh"]}),
        "interrupted": place(
            voice_server, interrupted,
            {"interrupts": True, "says": ["Sorry, I need to cancel my appointment please.", "no"]},
        ),
    }


def test_a_caller_pausing_mid_number_is_not_cut_off(voice_server: VoiceServer, placed: dict[str, str]) -> None:
    record = ended(voice_server, placed["pausing"])
    turns = record["transcript"]
    first_answer = next(i for i, t in enumerate(turns) if t["role"] == "user")
    answer = turns[first_answer]
    # One turn holds both halves: the agent did not speak in the pause.
    digits = parse_digits(UserInput(text=answer["text"])) or ""  # "555-1234567" or "five five five, 1234567"
    assert digits.startswith("555") and digits.endswith("4567"), turns
    assert answer["end_ms"] - answer["start_ms"] > 2500, answer
    assert all(t["role"] == "user" or t["start_ms"] >= answer["end_ms"] for t in turns[first_answer:]), turns


def test_uh_huh_while_the_agent_speaks_does_not_interrupt_it(voice_server: VoiceServer, placed: dict[str, str]) -> None:
    record = ended(voice_server, placed["backchannel"])
    info = record["transcript"][0]
    assert info["role"] == "agent" and not info.get("interrupted"), record["transcript"]
    assert LONG_SAY in info["text"]  # all of it was heard (the question may follow in the same turn)
    assert record["results"]["book"] is True


def test_a_real_interruption_stops_the_agent(voice_server: VoiceServer, placed: dict[str, str]) -> None:
    record = ended(voice_server, placed["interrupted"])
    info = record["transcript"][0]
    assert info["role"] == "agent" and info.get("interrupted") is True, record["transcript"]
    assert info["text"] != LONG_SAY
    assert any("cancel" in text.lower() for text in user_turns(record)), record["transcript"]
