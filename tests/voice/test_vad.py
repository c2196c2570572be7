"""SpeechDetector on real audio: webrtcvad with the consecutive-frame start rule."""

from __future__ import annotations

import numpy as np
import pytest

from callwright.voice.audio import FRAME_BYTES, SAMPLE_RATE, FrameSplitter
from callwright.voice.vad import SpeechDetector, frame_is_voiced


def frames_of(x: np.ndarray) -> list[bytes]:
    return FrameSplitter().push(np.clip(np.rint(x), -32768, 32767).astype("<i2").tobytes())


def vowel(seconds: float, f0: float = 130.0) -> np.ndarray:
    """A voiced, vowel-like sound: a harmonic series with a 1/k fall-off, at speech level."""
    t = np.arange(round(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    x = sum(np.sin(2 * np.pi * f0 * k * t) / k for k in range(1, int(7000 / f0)))
    return np.asarray(x) / np.max(np.abs(x)) * 8000


def noise(seconds: float, sigma: float) -> np.ndarray:
    return np.random.default_rng(7).normal(0, sigma, round(seconds * SAMPLE_RATE))


def silence(seconds: float) -> np.ndarray:
    return np.zeros(round(seconds * SAMPLE_RATE))


def test_voiced_sound_starts_speech_on_the_fifth_voiced_frame() -> None:
    vad = SpeechDetector()
    frames = frames_of(np.concatenate([silence(0.2), vowel(0.6)]))
    decisions = [vad.process(f) for f in frames]
    assert not any(decisions[:10])
    assert decisions[10:14] == [False] * 4  # voiced, but not yet five in a row
    assert all(decisions[14:])
    assert vad.speaking


@pytest.mark.parametrize("sigma", [0.0, 30.0, 100.0, 300.0])
def test_silence_and_low_noise_are_not_speech(sigma: float) -> None:
    vad = SpeechDetector()
    frames = frames_of(noise(2.0, sigma))
    assert not any(vad.process(f) for f in frames)
    assert not vad.speaking


def test_noise_onset_is_what_the_start_rule_filters() -> None:
    # webrtcvad calls the first frames of a noisy stream speech (DESIGN.md: ~100–160 ms).
    raw = SpeechDetector()
    frames = frames_of(noise(1.0, 300.0))
    assert any(raw.frame_is_voiced(f) for f in frames[:8])
    gated = SpeechDetector()
    assert not any(gated.process(f) for f in frames)


@pytest.mark.parametrize("background", ["digital silence", "line noise"])
@pytest.mark.parametrize("blip_frames", [1, 2, 4])
def test_a_blip_shorter_than_start_frames_is_not_speech(background: str, blip_frames: int) -> None:
    def quiet(seconds: float) -> np.ndarray:
        return silence(seconds) if background == "digital silence" else noise(seconds, 100.0)

    frames = frames_of(np.concatenate([quiet(0.5), vowel(0.02 * blip_frames), quiet(0.5)]))
    # webrtcvad's hangover stretches the blip to at least five voiced frames in a row...
    raw_vad = SpeechDetector()
    raw = [raw_vad.frame_is_voiced(f) for f in frames]
    assert "11111" in "".join("1" if v else "0" for v in raw[25:])
    # ...which the start rule must not take for speech.
    vad = SpeechDetector(start_frames=5)
    assert not any(vad.process(f) for f in frames)
    assert not vad.speaking


def test_once_speaking_each_frame_gets_its_own_verdict_until_reset() -> None:
    vad = SpeechDetector()
    for f in frames_of(vowel(0.2)):
        vad.process(f)
    assert vad.speaking
    gap = frames_of(silence(0.2))
    assert [vad.process(f) for f in gap] == [False] * len(gap)
    assert vad.speaking  # a pause is not the end of the turn: that is the endpointer's call
    resumed = frames_of(vowel(0.04))
    assert vad.process(resumed[0])  # no second start rule within the same speech
    assert vad.last_voiced

    vad.reset()
    assert not vad.speaking
    assert [vad.process(f) for f in frames_of(vowel(0.1))] == [False] * 4 + [True]


def test_hangover_frames_after_speech_are_not_heard() -> None:
    vad = SpeechDetector()
    frames = frames_of(np.concatenate([vowel(0.3), silence(0.3)]))
    heard = [vad.process(f) for f in frames]
    raw_vad = SpeechDetector()
    raw = [raw_vad.frame_is_voiced(f) for f in frames]
    assert sum(raw[15:]) >= 4  # webrtcvad's hangover: 80–140 ms past the end
    assert not any(heard[15:])  # the detector reports the end where the sound ended


def test_frame_is_voiced_is_raw_and_checks_the_frame_size() -> None:
    voiced = frames_of(vowel(0.1))[2]
    assert SpeechDetector().frame_is_voiced(voiced)
    assert frame_is_voiced(voiced)
    after = [frame_is_voiced(bytes(FRAME_BYTES)) for _ in range(10)]
    assert after[0]  # raw means raw: webrtcvad's hangover is in it
    assert not after[-1]
    with pytest.raises(ValueError):
        SpeechDetector().process(bytes(FRAME_BYTES - 2))


def test_narrowband_rate_and_bad_settings() -> None:
    vad = SpeechDetector(rate=8000, start_frames=2)
    assert vad.frame_bytes == 320
    with pytest.raises(ValueError):
        SpeechDetector(aggressiveness=4)
    with pytest.raises(ValueError):
        SpeechDetector(rate=11025)


@pytest.fixture(scope="module")
def spoken() -> bytes:
    from callwright.voice.tts.espeak import EspeakSynthesizer

    return EspeakSynthesizer().synthesize_sync("Hello, this is a test of the speech detector.")


def test_espeak_speech_is_speech_after_the_start_rule(spoken: bytes) -> None:
    frames = frames_of(silence(0.4)) + FrameSplitter().push(spoken) + frames_of(silence(0.6))
    raw_vad, vad = SpeechDetector(), SpeechDetector()
    raw = [raw_vad.frame_is_voiced(f) for f in frames]
    heard = [vad.process(f) for f in frames]
    first_voiced = raw.index(True)
    assert 20 <= first_voiced <= 23  # the speech starts after 400 ms (and 50 ms of lead-in)
    first = heard.index(True)
    assert first == first_voiced + 4  # five in a row: this frame and the four before it
    speech_frames = len(spoken) // FRAME_BYTES
    assert sum(heard) >= 0.6 * speech_frames
    assert not any(heard[20 + speech_frames + 8 :])


def test_an_espeak_blip_is_not_speech(spoken: bytes) -> None:
    energy = [float(np.sum(np.frombuffer(f, dtype="<i2").astype(float) ** 2)) for f in FrameSplitter().push(spoken)]
    loudest = int(np.argmax(np.convolve(energy, np.ones(4), mode="valid")))  # four frames of vowel
    for blip_frames in (2, 3, 4):
        blip = spoken[loudest * FRAME_BYTES : (loudest + blip_frames) * FRAME_BYTES]
        frames = frames_of(silence(0.5)) + FrameSplitter().push(blip) + frames_of(silence(0.5))
        raw_vad = SpeechDetector()
        raw = "".join("1" if raw_vad.frame_is_voiced(f) else "0" for f in frames)
        assert "11111" in raw  # a plain five-in-a-row rule would call it speech (hangover)
        vad = SpeechDetector()
        assert not any(vad.process(f) for f in frames), blip_frames
