"""Piper (the optional ``piper`` extra) in process: real speech, at 16 kHz, that Whisper
understands after a μ-law phone line. Skipped, loudly, without the extra; under CI=true the
extra is expected, so its absence fails instead."""

from __future__ import annotations

import asyncio
import importlib.util
import os
import time
from pathlib import Path

import numpy as np
import pytest
from tests.voice.conftest import frames_of, through_phone_line

from callwright.domain.expectation import Expectation
from callwright.voice.audio import SAMPLE_RATE, pcm_duration_ms
from callwright.voice.stt.whisper import WhisperTranscriber, default_engine
from callwright.voice.tts import piper as piper_module
from callwright.voice.tts.base import Synthesizer
from callwright.voice.tts.piper import PiperSynthesizer, PiperUnavailable, piper_installed

_MISSING = "the optional Piper extra is not installed (pip install 'callwright[piper]'): Piper tests NOT run"

if not piper_installed():
    if os.environ.get("CI") == "true":
        pytest.fail(_MISSING + ", and CI=true expects it", pytrace=False)
    pytest.skip(_MISSING, allow_module_level=True)

SENTENCE = "My name is John Smith and I am calling about my bill."


def samples(pcm: bytes) -> np.ndarray:
    return np.frombuffer(pcm, dtype="<i2").astype(np.float64)


@pytest.fixture(scope="module")
def piper() -> PiperSynthesizer:
    synth = PiperSynthesizer()
    synth.load()
    return synth


@pytest.fixture(scope="module")
def sentence(piper: PiperSynthesizer) -> bytes:
    return piper.synthesize_sync(SENTENCE)


def test_it_is_a_synthesizer(piper: PiperSynthesizer) -> None:
    synth: Synthesizer = piper
    assert synth.synthesize is not None


def test_the_voice_comes_from_the_installed_wheel(piper: PiperSynthesizer) -> None:
    assert piper.model.suffix == ".onnx" and piper.model.is_file()
    assert piper.config.name == piper.model.name + ".json" and piper.config.is_file()


def test_speech_is_16k_pcm_of_plausible_length_and_loudness(sentence: bytes) -> None:
    assert 2000 <= pcm_duration_ms(sentence) <= 6000
    x = samples(sentence)
    assert float(np.sqrt(np.mean(x**2))) > 1000  # speech, not silence
    assert np.abs(x).max() < 32767 * 0.9  # headroom, no clipping
    spectrum = np.abs(np.fft.rfft(x))
    freqs = np.fft.rfftfreq(len(x), 1 / SAMPLE_RATE)
    assert spectrum[freqs > 4500].sum() > 0.005 * spectrum.sum()  # a 16 kHz signal, not 8 kHz


async def test_streaming_yields_each_sentence_as_it_is_made(piper: PiperSynthesizer) -> None:
    chunks = [c async for c in piper.synthesize("Yes, that works. See you on Tuesday.")]
    assert len(chunks) == 2
    assert all(len(c) % 2 == 0 and pcm_duration_ms(c) > 300 for c in chunks)


async def test_synthesis_does_not_block_the_event_loop(piper: PiperSynthesizer) -> None:
    gaps: list[float] = []
    done = asyncio.Event()

    async def ticker() -> None:
        last = time.perf_counter()
        while not done.is_set():
            await asyncio.sleep(0.02)
            now = time.perf_counter()
            gaps.append(now - last)
            last = now

    task = asyncio.create_task(ticker())
    await asyncio.sleep(0.05)
    started = time.perf_counter()
    async for _ in piper.synthesize(SENTENCE + " " + SENTENCE):
        pass
    took = time.perf_counter() - started
    done.set()
    await task
    assert took > 0.05
    assert max(gaps) < 0.1


async def test_whisper_understands_it_over_a_phone_line(sentence: bytes) -> None:
    engine = default_engine()
    engine.load()
    utterance = WhisperTranscriber(engine).utterance(Expectation("text"))
    for frame in frames_of(through_phone_line(bytes(6400) + sentence + bytes(9600))):
        utterance.push(frame)
    text = (await utterance.finish()).text.lower()
    assert "john smith" in text and "bill" in text


async def test_empty_text_gives_no_audio(piper: PiperSynthesizer) -> None:
    assert [c async for c in piper.synthesize("  ")] == []


def test_a_missing_voice_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(PiperUnavailable, match="not found"):
        PiperSynthesizer(tmp_path / "nobody.onnx")


def test_without_the_runtime_the_error_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(piper_module.importlib.util, "find_spec", lambda name: None if name == "piper" else real(name))
    with pytest.raises(PiperUnavailable, match=r"callwright\[piper\]"):
        PiperSynthesizer()


def test_a_packaged_voice_that_differs_from_the_pinned_one_is_refused(tmp_path: Path) -> None:
    model = tmp_path / "voice.onnx"
    model.write_bytes(b"not a voice")
    (tmp_path / "voice.onnx.json").write_text("{}")
    synth = PiperSynthesizer(model)
    synth.expected_sha256 = piper_module.PACKAGED_MODEL_SHA256  # as if it were the wheel's file
    with pytest.raises(PiperUnavailable, match="sha256"):
        synth.load()
