"""Per-turn latency breakdown and its summary."""

from __future__ import annotations

import pytest

from callwright.voice.latency import LatencyTracker, TurnTimer, percentile


def test_breakdown_is_consecutive_intervals_with_overhead_as_the_rest() -> None:
    timer = TurnTimer(
        turn=1, speech_end=10.0, endpoint=10.5, stt_done=10.52, dialogue_first=10.521,
        tts_start=10.522, tts_first_byte=10.530, first_audio=10.533,
    )
    lat = timer.breakdown()
    assert lat is not None
    assert lat.endpointing == pytest.approx(500)
    assert lat.stt == pytest.approx(20)
    assert lat.dialogue == pytest.approx(1)
    assert lat.tts == pytest.approx(8)
    assert lat.total == pytest.approx(533)
    assert lat.overhead == pytest.approx(4)
    assert lat.endpointing + lat.stt + lat.dialogue + lat.tts + lat.overhead == pytest.approx(lat.total)


def test_a_turn_without_agent_audio_has_no_breakdown() -> None:
    assert TurnTimer(turn=1, speech_end=1.0).breakdown() is None


def test_tracker_closes_the_turn_at_first_audio_only_once() -> None:
    tracker = LatencyTracker()
    tracker.begin(1.0)
    tracker.first_audio(1.6)
    tracker.first_audio(1.9)
    assert [t.total for t in tracker.report.turns] == [pytest.approx(600)]


def test_abandoned_turns_are_not_reported() -> None:
    tracker = LatencyTracker()
    tracker.begin(1.0)
    tracker.abandon()
    tracker.first_audio(2.0)
    assert tracker.report.n == 0


def test_summary_has_p50_and_p95_per_component() -> None:
    tracker = LatencyTracker()
    for i in range(10):
        tracker.begin(float(i))
        tracker.first_audio(i + 0.5 + i / 100)
    summary = tracker.report.to_dict()
    assert summary["n"] == 10
    assert set(summary["summary"]) == {
        "endpointing_ms", "stt_ms", "dialogue_ms", "tools_ms", "tts_ms", "overhead_ms", "total_ms"
    }
    assert summary["summary"]["total_ms"]["p50"] == pytest.approx(545, abs=0.01)


def test_percentile_interpolates() -> None:
    assert percentile([1, 2, 3, 4], 50) == 2.5
    assert percentile([], 95) == 0.0
