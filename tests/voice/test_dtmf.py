"""DTMF digits as carrier audio: the frames, the tones in them, and the strings accepted."""

from __future__ import annotations

import numpy as np
import pytest

from callwright.voice.audio import CARRIER_FRAME_BYTES, CARRIER_RATE, ulaw_decode
from callwright.voice.dtmf import (
    DBM0_PEAK,
    DIGIT_TONES,
    MAX_DIGITS,
    ULAW_PEAK,
    InvalidDigits,
    dtmf_frames,
    normalize_digits,
)


def samples(frames: list[bytes]) -> np.ndarray:
    return np.frombuffer(ulaw_decode(b"".join(frames)), dtype="<i2").astype(np.float64)


def level_dbm0(x: np.ndarray, freq: float) -> float:
    """A sine's level at ``freq`` in ``x`` (whole periods or not: a long window makes it exact enough)."""
    n = np.arange(len(x))
    amplitude = 2 * abs(np.sum(x * np.exp(-2j * np.pi * freq * n / CARRIER_RATE))) / len(x)
    return float(20 * np.log10(amplitude / DBM0_PEAK))


def test_frames_are_20ms_of_mulaw() -> None:
    frames = dtmf_frames("12")
    assert all(len(f) == CARRIER_FRAME_BYTES for f in frames)
    assert len(frames) == 2 * (100 + 100) // 20


@pytest.mark.parametrize("digit", list(DIGIT_TONES))
def test_each_key_is_its_row_and_column_tone(digit: str) -> None:
    x = samples(dtmf_frames(digit, tone_ms=400))[:3200]
    spectrum = np.abs(np.fft.rfft(x))
    freqs = np.fft.rfftfreq(len(x), 1 / CARRIER_RATE)
    top_two = sorted(freqs[np.argsort(spectrum)[-2:]])
    assert top_two == pytest.approx(DIGIT_TONES[digit], abs=2.5)  # 2.5 Hz bins


def test_each_tone_is_about_minus_10_dbm0_and_the_pair_does_not_clip() -> None:
    x = samples(dtmf_frames("1", tone_ms=1000))[:8000]
    low, high = DIGIT_TONES["1"]
    assert level_dbm0(x, low) == pytest.approx(-10, abs=0.5)
    assert level_dbm0(x, high) == pytest.approx(-10, abs=0.5)
    assert np.max(np.abs(x)) < ULAW_PEAK / 2


def test_tone_then_gap_lasts_as_asked() -> None:
    x = samples(dtmf_frames("5", tone_ms=60, gap_ms=140))
    sounding = np.flatnonzero(np.abs(x) > 100)
    assert len(x) == 0.2 * CARRIER_RATE
    assert (sounding[-1] - sounding[0] + 1) / CARRIER_RATE == pytest.approx(0.06, abs=0.002)


def test_w_is_a_half_second_pause() -> None:
    assert len(dtmf_frames("1w2")) - len(dtmf_frames("12")) == 500 // 20


def test_letters_are_case_insensitive() -> None:
    assert dtmf_frames("abcd") == dtmf_frames("ABCD")


def test_normalize_strips_spaces_and_dashes() -> None:
    assert normalize_digits(" 1-800 555-01w#a ") == "180055501w#A"


@pytest.mark.parametrize(
    ("digits", "says"),
    [
        ("", "empty"),
        (" - ", "empty"),
        ("12x4", "'x'"),
        ("1+2", r"'\+'"),
        ("ww", "only pauses"),
        ("1" * (MAX_DIGITS + 1), "at most 32"),
    ],
)
def test_invalid_digits_are_refused_with_the_reason(digits: str, says: str) -> None:
    with pytest.raises(InvalidDigits, match=says):
        normalize_digits(digits)
    with pytest.raises(InvalidDigits, match=says):
        dtmf_frames(digits)


def test_max_digits_is_accepted() -> None:
    assert normalize_digits("1" * MAX_DIGITS) == "1" * MAX_DIGITS


def test_invalid_digits_is_a_value_error() -> None:
    assert issubclass(InvalidDigits, ValueError)


def test_tones_shorter_than_40ms_are_refused() -> None:
    with pytest.raises(ValueError, match="at least 40 ms"):
        dtmf_frames("1", tone_ms=30)
    with pytest.raises(ValueError, match="at least 40 ms"):
        dtmf_frames("1", gap_ms=20)
