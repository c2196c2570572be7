"""Which synthesizer the simulated callee gets: CALLWRIGHT_CALLEE_VOICE (auto, piper, espeak)."""

from __future__ import annotations

from pathlib import Path

import pytest

from callwright.settings import Settings
from callwright.telephony.simulator import callee_voice
from callwright.telephony.simulator.callee_voice import callee_synthesizer_factory
from callwright.voice.tts.espeak import EspeakSynthesizer
from callwright.voice.tts.piper import PiperSynthesizer, PiperUnavailable, piper_installed


def test_espeak_is_chosen_on_request_with_the_configured_voice() -> None:
    synth = callee_synthesizer_factory("espeak", espeak_voice="en-us", prewarm=False)()
    assert isinstance(synth, EspeakSynthesizer) and synth.voice == "en-us"


def test_auto_falls_back_to_espeak_without_the_piper_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(callee_voice, "piper_installed", lambda: False)
    assert isinstance(callee_synthesizer_factory("auto", prewarm=False)(), EspeakSynthesizer)


@pytest.mark.skipif(not piper_installed(), reason="the optional Piper extra is not installed")
def test_auto_picks_piper_when_it_is_installed() -> None:
    factory = callee_synthesizer_factory("auto", prewarm=False)
    assert isinstance(factory(), PiperSynthesizer)
    assert factory() is factory()  # one voice per carrier, loaded once


def test_piper_on_request_with_a_missing_voice_fails_at_start_up(tmp_path: Path) -> None:
    with pytest.raises(PiperUnavailable):
        callee_synthesizer_factory("piper", piper_model=tmp_path / "none.onnx", prewarm=False)


def test_the_setting_reads_callwright_callee_voice(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CALLWRIGHT_CALLEE_VOICE", "espeak")
    assert Settings().callee_voice == "espeak"
    monkeypatch.setenv("CALLWRIGHT_CALLEE_VOICE", "festival")
    with pytest.raises(ValueError):
        Settings()
