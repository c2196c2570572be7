"""The numpy log-mel front end of the Smart Turn model: shape, scale and where sound lands."""

from __future__ import annotations

import numpy as np
import pytest

from callwright.voice.log_mel import (
    HOP,
    N_FFT,
    N_MELS,
    SAMPLE_RATE,
    WINDOW_FRAMES,
    WINDOW_SAMPLES,
    last_window,
    log_mel,
    mel_filterbank,
    pcm16_to_float,
    smart_turn_features,
)


def tone(hz: float, seconds: float, amplitude: float = 8000.0) -> np.ndarray:
    t = np.arange(round(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    return amplitude * np.sin(2 * np.pi * hz * t)


def pcm(x: np.ndarray) -> bytes:
    return np.clip(np.rint(x), -32768, 32767).astype("<i2").tobytes()


def test_features_have_the_models_shape_and_scale() -> None:
    noise = np.random.default_rng(1).normal(0, 2000, 3 * SAMPLE_RATE)
    features = smart_turn_features(pcm(noise))
    assert features.shape == (1, N_MELS, WINDOW_FRAMES) == (1, 80, 800)
    assert features.dtype == np.float32
    assert np.isfinite(features).all()
    # log10 power, clamped to 8 below the peak, then (x + 4) / 4: at most 2.0 of range.
    assert features.max() - features.min() <= 2.0 + 1e-6
    assert -1.5 < features.min() and features.max() < 2.5


def test_short_audio_is_padded_at_the_start_so_the_speech_ends_the_window() -> None:
    window = last_window(np.ones(1000, dtype=np.float32))
    assert window.shape == (WINDOW_SAMPLES,)
    assert not window[: WINDOW_SAMPLES - 1000].any() and window[-1000:].all()
    long = np.arange(WINDOW_SAMPLES + 500, dtype=np.float32)
    assert last_window(long)[0] == 500  # longer audio keeps its last 8 s

    features = smart_turn_features(pcm(tone(440, 1.0)))[0]
    loudness = features.max(axis=0)  # the loudest band of each 10 ms frame
    assert loudness[-90:].min() > loudness[:600].max() + 1.0  # the tone is in the last second
    assert np.ptp(loudness[:600]) < 1e-6  # the padding is one flat floor


def test_a_tone_lands_in_the_mel_band_of_its_frequency() -> None:
    bank = mel_filterbank()
    assert bank.shape == (N_MELS, N_FFT // 2 + 1)
    bin_hz = np.arange(N_FFT // 2 + 1) * SAMPLE_RATE / N_FFT
    for hz in (300.0, 1000.0, 3000.0):
        features = log_mel(last_window(tone(hz, 8.0)))
        band = int(features.mean(axis=1).argmax())
        assert band == int(bank[:, int(np.argmin(np.abs(bin_hz - hz)))].argmax())
    low = log_mel(last_window(tone(300.0, 8.0))).mean(axis=1).argmax()
    high = log_mel(last_window(tone(3000.0, 8.0))).mean(axis=1).argmax()
    assert low < high


def test_filters_are_unit_area_triangles_on_the_slaney_scale() -> None:
    bank = mel_filterbank()
    assert (bank >= 0).all()
    assert (bank.max(axis=1) > 0).all()  # no empty filter at 80 bands over 201 bins
    # Below 1 kHz the Slaney scale is linear: the first filters are equally wide.
    widths = (bank > 0).sum(axis=1)
    assert widths[1] == widths[2] == widths[3]


def test_scale_of_the_input_does_not_matter() -> None:
    x = np.random.default_rng(2).normal(0, 1000, SAMPLE_RATE)
    quiet = log_mel(last_window(x / 10))
    loud = log_mel(last_window(x))
    assert np.allclose(quiet, loud, atol=1e-4)  # the window is normalised before the spectrum
    assert quiet.shape == (N_MELS, WINDOW_SAMPLES // HOP)


def test_bad_input_is_refused() -> None:
    with pytest.raises(ValueError):
        pcm16_to_float(b"\x00")
    with pytest.raises(ValueError):
        last_window(np.zeros((2, 10)))
    with pytest.raises(ValueError):
        log_mel(np.zeros(10))
