"""Answering-machine cues from audio: the beep and the long greeting."""

from __future__ import annotations

import numpy as np
from tests.voice.session_harness import beep_ulaw, to_ulaw_frames, vowel

from callwright.voice.audio import CarrierDecoder, FrameSplitter, ulaw_encode
from callwright.voice.voicemail import BeepDetector, GreetingDetector


def decoded(ulaw_frames: list[bytes]) -> list[bytes]:
    decoder = CarrierDecoder()
    return [decoder.decode(f) for f in ulaw_frames]


def run(detector: BeepDetector, frames: list[bytes]) -> list[bool]:
    return [detector.process(f) for f in frames]


def test_a_1khz_beep_through_the_phone_codec_is_detected() -> None:
    detector = BeepDetector()
    out = run(detector, decoded(beep_ulaw(1000, 0.5)))
    assert detector.detected and any(out)
    assert detector.frequency_hz is not None and abs(detector.frequency_hz - 1000) <= 50


def test_the_beep_ends_on_the_first_frame_after_it() -> None:
    detector = BeepDetector()
    run(detector, decoded(beep_ulaw(800, 0.4)))
    assert not detector.ended
    run(detector, decoded([b"\xff" * 160]))
    assert detector.ended


def test_a_tone_shorter_than_200ms_is_not_a_beep() -> None:
    detector = BeepDetector()
    run(detector, decoded(beep_ulaw(1000, 0.12)))
    assert not detector.detected


def test_tones_outside_400_to_2000_hz_are_not_beeps() -> None:
    for freq in (250, 2600):
        detector = BeepDetector()
        run(detector, decoded(beep_ulaw(freq, 0.5)))
        assert not detector.detected, freq


def test_voiced_speech_is_not_a_beep() -> None:
    detector = BeepDetector()
    run(detector, decoded(to_ulaw_frames(vowel(1.0, f0=180))))
    assert not detector.detected


def test_a_dtmf_key_is_not_a_beep() -> None:
    t = np.arange(4000) / 8000
    pcm = ((np.sin(2 * np.pi * 770 * t) + np.sin(2 * np.pi * 1336 * t)) * 6000).astype("<i2").tobytes()
    detector = BeepDetector()
    run(detector, decoded(FrameSplitter(160).push(ulaw_encode(pcm))))
    assert not detector.detected


def feed(detector: GreetingDetector, flags: str) -> str | None:
    verdict = None
    for i, flag in enumerate(flags):
        verdict = detector.process(i * 20, flag == "v")
    return verdict


def test_three_seconds_of_speech_without_a_pause_is_a_machine() -> None:
    # Short gaps (between words) do not break the stretch.
    assert feed(GreetingDetector(3000, pause_ms=500), ("v" * 40 + "." * 10) * 4) == "machine"


def test_speech_then_a_pause_is_a_person() -> None:
    assert feed(GreetingDetector(3000, pause_ms=500), "v" * 30 + "." * 30) == "human"


def test_no_verdict_before_anyone_speaks() -> None:
    assert feed(GreetingDetector(), "." * 200) is None
