"""End of turn: the decision rule, loading the Smart Turn model, and running it off the event loop.

The model file is never committed: it comes from an installed ``pipecat-ai`` wheel or from
``CALLWRIGHT_SMART_TURN_MODEL``. Without it the model tests skip loudly, and fail under CI=true.
"""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from callwright.voice import turn_detector
from callwright.voice.tts.espeak import EspeakSynthesizer
from callwright.voice.turn_detector import (
    MODEL_ENV,
    MODEL_PATH_IN_DISTRIBUTION,
    EndOfTurnOptions,
    SmartTurnDetector,
    TurnModelError,
    TurnModelNotFound,
    end_of_turn,
    find_model,
    required_silence_ms,
)

COMPLETE = "I would like to book an appointment for Tuesday."


@pytest.fixture(scope="module")
def detector() -> Any:
    try:
        loaded = SmartTurnDetector.load()
    except TurnModelNotFound as exc:
        reason = f"Smart Turn model not available ({exc}); Smart Turn model tests NOT run"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(reason + " — required under CI=true")
        pytest.skip("!!! " + reason)
    yield loaded
    loaded.close()


# --- the decision rule -------------------------------------------------------------------------


def test_short_silence_ends_a_turn_the_model_calls_complete() -> None:
    options = EndOfTurnOptions()
    assert not end_of_turn(180, 0.9, "unknown", options)
    assert end_of_turn(200, 0.9, "unknown", options)
    assert end_of_turn(200, options.threshold, "unknown", options)  # the threshold counts as complete


def test_a_satisfied_grammar_ends_the_turn_after_the_short_silence_whatever_the_model_says() -> None:
    options = EndOfTurnOptions()
    assert end_of_turn(200, 0.05, "satisfied", options)
    assert end_of_turn(200, None, "satisfied", options)


def test_without_a_judgement_the_agents_endpointing_applies() -> None:
    options = EndOfTurnOptions(endpointing_ms=700)
    assert required_silence_ms(None, "unknown", options) == 700
    assert not end_of_turn(690, None, "unknown", options)
    assert end_of_turn(700, None, "unknown", options)


def test_an_incomplete_utterance_gets_the_long_silence() -> None:
    options = EndOfTurnOptions(incomplete_silence_ms=1500)
    assert required_silence_ms(0.2, "unknown", options) == 1500
    assert not end_of_turn(1000, 0.2, "unknown", options)
    assert end_of_turn(1500, 0.2, "unknown", options)


def test_an_unsatisfied_grammar_gets_the_long_silence_even_when_the_model_says_complete() -> None:
    options = EndOfTurnOptions(incomplete_silence_ms=1500)
    assert required_silence_ms(0.99, "unsatisfied", options) == 1500
    assert required_silence_ms(None, "unsatisfied", options) == 1500


def test_options_are_checked() -> None:
    with pytest.raises(ValueError):
        EndOfTurnOptions(short_silence_ms=600, endpointing_ms=500)
    with pytest.raises(ValueError):
        EndOfTurnOptions(endpointing_ms=500, incomplete_silence_ms=400)
    with pytest.raises(ValueError):
        EndOfTurnOptions(threshold=1.5)


# --- finding and checking the file (no model needed) -------------------------------------------


def test_a_missing_file_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(TurnModelNotFound, match="not found at"):
        SmartTurnDetector.load(tmp_path / "nope.onnx")
    monkeypatch.setenv(MODEL_ENV, str(tmp_path / "also-nope.onnx"))
    with pytest.raises(TurnModelNotFound, match=MODEL_ENV):
        find_model()


def test_without_path_or_variable_the_pipecat_wheel_is_searched(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(MODEL_ENV, raising=False)

    def no_dist(name: str) -> Any:
        raise turn_detector.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(turn_detector.metadata, "distribution", no_dist)
    with pytest.raises(TurnModelNotFound, match="pip install --no-deps pipecat-ai"):
        find_model()

    model = tmp_path / MODEL_PATH_IN_DISTRIBUTION
    model.parent.mkdir(parents=True)
    model.write_bytes(b"x")
    fake = SimpleNamespace(
        version="1.14.0",
        files=[
            turn_detector.metadata.PackagePath("pipecat/__init__.py"),
            turn_detector.metadata.PackagePath(MODEL_PATH_IN_DISTRIBUTION),
        ],
        locate_file=lambda f: tmp_path / str(f),
    )
    monkeypatch.setattr(turn_detector.metadata, "distribution", lambda name: fake)
    assert find_model() == model


def test_a_different_file_is_refused_unless_its_digest_is_given(tmp_path: Path) -> None:
    other = tmp_path / "other.onnx"
    other.write_bytes(b"not the model")
    with pytest.raises(TurnModelError, match="sha256"):
        SmartTurnDetector.load(other)
    with pytest.raises(TurnModelError, match="onnxruntime cannot load"):
        SmartTurnDetector.load(other, sha256=None)


# --- the model ---------------------------------------------------------------------------------


def test_the_model_gives_a_deterministic_probability(detector: SmartTurnDetector) -> None:
    speech = EspeakSynthesizer().synthesize_sync(COMPLETE)
    first = detector.predict(speech)
    assert 0.0 <= first <= 1.0
    assert detector.predict(speech) == first


def test_a_finished_sentence_followed_by_a_pause_is_judged_complete(detector: SmartTurnDetector) -> None:
    # espeak's renderings differ slightly from call to call; over 40 of them this scored 0.92-0.98
    # (0.90-0.95 through the μ-law phone line). With less trailing silence the model is erratic
    # on espeak voices (bench/turn_detector.py), so that is not asserted.
    speech = bytes(8000) + EspeakSynthesizer().synthesize_sync(COMPLETE) + bytes(300 * 32)
    assert detector.predict(speech) >= EndOfTurnOptions().threshold


async def test_inference_runs_off_the_event_loop(detector: SmartTurnDetector) -> None:
    speech = EspeakSynthesizer().synthesize_sync(COMPLETE)
    await detector.complete_probability(speech)  # warm up
    gaps: list[float] = []
    stop = asyncio.Event()

    async def ticker() -> None:
        last = time.perf_counter()
        while not stop.is_set():
            await asyncio.sleep(0.02)
            now = time.perf_counter()
            gaps.append(now - last)
            last = now

    task = asyncio.create_task(ticker())
    await asyncio.sleep(0.05)
    started = time.perf_counter()
    results = [await detector.complete_probability(speech) for _ in range(8)]
    busy = time.perf_counter() - started
    stop.set()
    await task
    assert all(0.0 <= p <= 1.0 for p in results)
    # Eight inferences kept a worker thread busy while the loop went on ticking every ~20 ms.
    assert busy > 0.1
    assert len(gaps) >= busy / 0.02 * 0.5
    assert max(gaps) < 0.1, f"the event loop stalled for {max(gaps) * 1000:.0f} ms"


async def test_a_closed_detector_refuses_work(detector: SmartTurnDetector) -> None:
    other = SmartTurnDetector.load(detector.path)
    other.close()
    with pytest.raises(TurnModelError, match="closed"):
        await other.complete_probability(bytes(3200))
