"""Simulated calls, end to end, in real audio: every callee behaviour reaches the right outcome.

All calls are placed at once (they run at real-time pace), then each test checks one."""

from __future__ import annotations

import io
import wave
from typing import Any

import numpy as np
import pytest
from tests.e2e.conftest import VoiceServer

VERIFY = {"verify": "4567"}
CALLS: dict[str, dict[str, Any]] = {
    "yes": {"to": "+15550100001", "simulated_callee": {"says": ["yes"], "dtmf": VERIFY}},
    "no_then_choice": {"to": "+15550100011", "simulated_callee": {"says": ["no", "wednesday"], "dtmf": VERIFY}},
    "interrupts": {
        "to": "+15550100008",
        "simulated_callee": {
            "interrupts": True, "says": ["Wait, I have a question first.", "yes", "yes"], "dtmf": VERIFY
        },
    },
    "no_answer": {"to": "+15550100003"},
    "busy": {"to": "+15550100002"},
    "fail": {"to": "+15550100004"},
    "voicemail": {"to": "+15550100005", "contact": None},
    "voicemail_from_audio": {"to": "+15550100006"},
    "silent": {"to": "+15550100007"},
}


@pytest.fixture(scope="module")
def finished(voice_server: VoiceServer, flow_agent: dict[str, Any]) -> dict[str, dict[str, Any]]:
    ids = {}
    for name, spec in CALLS.items():
        body = {"agent_id": flow_agent["id"], **{k: v for k, v in spec.items() if v is not None}}
        r = voice_server.api.post("/v1/calls", json=body)
        assert r.status_code == 201, r.text
        ids[name] = r.json()["id"]
    return {name: voice_server.wait_for_end(call_id) for name, call_id in ids.items()}


def _roles(call: dict[str, Any]) -> list[str]:
    return [t["role"] for t in call["transcript"]]


def test_a_spoken_yes_confirms_and_keyed_digits_verify(finished: dict[str, dict[str, Any]]) -> None:
    call = finished["yes"]
    assert (call["status"], call["end_reason"]) == ("completed", "agent_hangup")
    assert call["results"]["confirmed"] is True
    assert call["results"]["verification_code"] == "4567"
    assert call["results"]["outcome"] == "completed"
    assert "yes" in [t["text"].lower() for t in call["transcript"] if t["role"] == "user"]


def test_a_spoken_no_leads_to_the_choice_of_a_new_day(finished: dict[str, dict[str, Any]]) -> None:
    call = finished["no_then_choice"]
    assert call["status"] == "completed"
    assert call["results"]["confirmed"] is False
    assert call["results"]["new_day"] == "wednesday"
    assert any("Wednesday" in t["text"] for t in call["transcript"] if t["role"] == "agent")


def test_the_transcript_alternates_with_timestamps(finished: dict[str, dict[str, Any]]) -> None:
    call = finished["yes"]
    assert _roles(call)[0] == "agent" and "user" in _roles(call)
    starts = [t["start_ms"] for t in call["transcript"]]
    assert starts == sorted(starts)
    assert all(t["end_ms"] >= t["start_ms"] for t in call["transcript"])
    assert call["duration_ms"] > 1000 and call["answered_at"] and call["started_at"]


def test_the_recording_is_stereo_with_the_caller_left_and_the_agent_right(
    voice_server: VoiceServer, finished: dict[str, dict[str, Any]]
) -> None:
    call = finished["no_then_choice"]
    r = voice_server.api.get(f"/v1/conversations/{call['id']}/recording")
    assert r.status_code == 200 and r.headers["content-type"] == "audio/wav"
    with wave.open(io.BytesIO(r.content)) as wav:
        assert wav.getnchannels() == 2 and wav.getsampwidth() == 2
        frames = np.frombuffer(wav.readframes(wav.getnframes()), dtype=np.int16).reshape(-1, 2)
    caller_energy, agent_energy = np.abs(frames.astype(np.int32)).mean(axis=0)
    assert caller_energy > 50 and agent_energy > 50
    assert agent_energy > caller_energy  # the agent talks more than "no" and "wednesday"


def test_latency_is_recorded_per_turn_with_its_breakdown(finished: dict[str, dict[str, Any]]) -> None:
    latency = finished["yes"]["latency"]
    turns = latency["turns"]
    assert turns, latency
    for turn in turns:
        parts = sum(turn[k] for k in ("endpointing_ms", "stt_ms", "dialogue_ms", "tts_ms"))
        assert parts <= turn["total_ms"] + 1
        assert turn["overhead_ms"] >= 0
    assert "total_ms" in latency["summary"]


def test_an_interruption_cuts_the_agent_and_is_marked(finished: dict[str, dict[str, Any]]) -> None:
    call = finished["interrupts"]
    assert call["status"] == "completed"
    assert any(t["interrupted"] for t in call["transcript"] if t["role"] == "agent")


def test_no_answer_ends_as_no_answer(finished: dict[str, dict[str, Any]]) -> None:
    assert finished["no_answer"]["status"] == "no_answer"
    assert finished["no_answer"]["transcript"] == []


def test_busy_ends_as_busy(finished: dict[str, dict[str, Any]]) -> None:
    assert finished["busy"]["status"] == "busy"


def test_a_carrier_failure_ends_as_failed(finished: dict[str, dict[str, Any]]) -> None:
    assert finished["fail"]["status"] == "failed"


def test_voicemail_signalled_by_the_carrier_gets_the_message_after_the_beep(
    finished: dict[str, dict[str, Any]],
) -> None:
    call = finished["voicemail"]
    assert call["status"] == "voicemail"
    agent_lines = [t["text"] for t in call["transcript"] if t["role"] == "agent"]
    assert any("please call Riverside Dental" in line for line in agent_lines)


def test_voicemail_is_detected_from_the_audio_alone(finished: dict[str, dict[str, Any]]) -> None:
    call = finished["voicemail_from_audio"]
    assert call["status"] == "voicemail"


def test_a_silent_callee_ends_with_a_silence_timeout(finished: dict[str, dict[str, Any]]) -> None:
    call = finished["silent"]
    assert (call["status"], call["end_reason"]) == ("completed", "silence_timeout")
