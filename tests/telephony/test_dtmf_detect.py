"""The simulator's DTMF ear: keys played as tones come back as digits; speech and noise do not."""

from __future__ import annotations

import numpy as np
import pytest

from callwright.telephony.simulator.callee_audio import beep_frames, speech_frames
from callwright.telephony.simulator.dtmf_detect import DtmfDetector
from callwright.voice.audio import CARRIER_RATE, CarrierDecoder, CarrierEncoder, ulaw_decode, ulaw_encode
from callwright.voice.dtmf import DBM0_PEAK, DIGIT_TONES, _dual_tone, dtmf_frames
from callwright.voice.tts.espeak import EspeakSynthesizer

SILENCE = b"\xff" * 160


def hear(audio: list[bytes] | bytes, chunk: int = 160) -> str:
    data = b"".join(audio) if isinstance(audio, list) else audio
    detector = DtmfDetector()
    digits: list[str] = []
    for i in range(0, len(data), chunk):
        digits += detector.feed(data[i : i + chunk])
    return "".join(digits)


def ulaw(x: np.ndarray) -> bytes:
    return ulaw_encode(np.clip(np.rint(x), -32768, 32767).astype("<i2").tobytes())


def tone_of(digit: str, ms: int) -> bytes:
    """One key's tone, ``ms`` long, between 50 ms of silence before and 200 ms after."""
    x = _dual_tone(*DIGIT_TONES[digit], ms * CARRIER_RATE // 1000)
    return ulaw(np.concatenate((np.zeros(400), x, np.zeros(1600))))


@pytest.mark.parametrize("digit", list(DIGIT_TONES))
def test_every_key_round_trips(digit: str) -> None:
    assert hear(dtmf_frames(digit)) == digit


def test_a_sequence_round_trips_in_order() -> None:
    assert hear(dtmf_frames("1234#")) == "1234#"


def test_the_shortest_standard_tones_and_gaps_round_trip() -> None:
    assert hear(dtmf_frames("1122*0", tone_ms=40, gap_ms=40)) == "1122*0"


def test_chunk_size_does_not_matter() -> None:
    audio = dtmf_frames("9876#")
    assert hear(audio, chunk=37) == hear(audio, chunk=1000) == "9876#"


def test_one_long_tone_is_one_digit() -> None:
    assert hear(tone_of("5", 2000)) == "5"


def test_a_repeated_key_needs_its_pause() -> None:
    assert hear(dtmf_frames("55")) == "55"


def test_a_tone_shorter_than_about_40ms_is_not_a_key() -> None:
    assert hear(tone_of("5", 25)) == ""
    assert hear(tone_of("5", 45)) == "5"


def test_silence_is_no_digits() -> None:
    assert hear([SILENCE] * 200) == ""


def test_a_single_tone_is_not_a_key() -> None:
    assert hear(beep_frames(1000, 1.0)) == ""
    assert hear(beep_frames(770, 1.0)) == ""


def test_tones_under_a_noise_floor_still_decode() -> None:
    x = np.frombuffer(ulaw_decode(b"".join(dtmf_frames("0123456789*#ABCD"))), dtype="<i2").astype(np.float64)
    noise_rms = DBM0_PEAK / np.sqrt(2) * 10 ** (-25 / 20)  # -25 dBm0: a hissy line
    noisy = x + np.random.default_rng(7).normal(0, noise_rms, len(x))
    assert hear(ulaw(noisy)) == "0123456789*#ABCD"


def test_noise_alone_is_no_digits() -> None:
    noise = np.random.default_rng(3).normal(0, DBM0_PEAK / np.sqrt(2) * 10 ** (-15 / 20), 5 * CARRIER_RATE)
    assert hear(ulaw(noise)) == ""


@pytest.mark.parametrize(
    "text",
    [
        "Thank you for calling Acme Bank. For billing, press 1. For support, press 2.",
        "My account number is 4 7 1 1 2 0 9 3, and you can call me back at 212 555 0199.",
        "One, two, three, four, five, six, seven, eight, nine, zero, star, pound. Beeeep. Ooooh.",
    ],
)
async def test_speech_is_no_digits(text: str) -> None:
    frames: list[bytes] = []
    async for chunk in speech_frames(EspeakSynthesizer(), text):
        frames.extend(chunk)
    assert len(frames) > 100  # seconds of speech, not a click
    assert hear(frames) == ""


def test_keys_survive_the_engines_16khz_audio_path() -> None:
    decoder, encoder = CarrierDecoder(), CarrierEncoder()
    pcm16k = b"".join(decoder.decode(frame) for frame in dtmf_frames("147*2580#369"))
    assert hear(encoder.encode(pcm16k) + encoder.flush()) == "147*2580#369"
