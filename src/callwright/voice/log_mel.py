"""Whisper-style log-mel features in numpy: the front end of the Smart Turn model.

Smart Turn v3 is a Whisper-tiny encoder with a classifier head, so it takes the features
Whisper's encoder was trained on, computed over an 8 s window instead of Whisper's 30 s:

1. 16 kHz mono samples, scaled to ±1. The window holds the *last* 8 s of the turn; a shorter
   turn is padded with zeros at the *start*, so the end of the speech always sits at the end
   of the window (the end is what the model judges).
2. The window is normalised to zero mean and unit variance (Whisper's ``do_normalize``).
3. A centred short-time Fourier transform: 25 ms periodic-Hann frames (400 samples) every
   10 ms (160 samples), the signal reflected by half a frame at both ends; power spectrum.
4. 80 triangular mel filters on the Slaney scale (linear below 1 kHz, logarithmic above),
   each scaled to unit area, from 0 Hz to 8 kHz.
5. ``log10`` with a floor of 1e-10; everything more than 8 (80 dB) below the window's loudest
   value is raised to that level; then ``(x + 4) / 4``, which puts speech roughly in [-1, 1].

801 frames come out of 8 s; the last one is dropped, leaving ``(80, 800)``, the model's
input shape. Computed in float64 like the reference, returned as float32. One 8 s window takes
a few milliseconds on one core (see ``bench/turn_detector.py``).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import numpy.typing as npt

SAMPLE_RATE = 16000
N_FFT = 400  # 25 ms
HOP = 160  # 10 ms
N_MELS = 80
WINDOW_SECONDS = 8
WINDOW_SAMPLES = SAMPLE_RATE * WINDOW_SECONDS
WINDOW_FRAMES = WINDOW_SAMPLES // HOP  # 800

_LOG_FLOOR = 1e-10
_DYNAMIC_RANGE = 8.0  # in log10 units: 80 dB
_NORMALIZE_EPS = 1e-7

F32 = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]


def _hz_to_mel(hz: F64) -> F64:
    """Slaney's mel scale: 3 mels per 200 Hz up to 1 kHz (15 mels), then 27 mels per factor 6.4."""
    linear = hz * 3.0 / 200.0
    log = 15.0 + np.log(np.maximum(hz, 1e-12) / 1000.0) * (27.0 / np.log(6.4))
    return np.where(hz < 1000.0, linear, log)


def _mel_to_hz(mel: F64) -> F64:
    linear = mel * 200.0 / 3.0
    log = 1000.0 * np.exp((mel - 15.0) * (np.log(6.4) / 27.0))
    return np.where(mel < 15.0, linear, log)


@lru_cache(maxsize=4)
def mel_filterbank(n_mels: int = N_MELS, n_fft: int = N_FFT, rate: int = SAMPLE_RATE) -> F64:
    """``(n_mels, n_fft // 2 + 1)`` matrix: triangular Slaney filters of unit area, 0 Hz to Nyquist."""
    bin_hz = np.linspace(0.0, rate / 2, n_fft // 2 + 1)
    edges_mel = np.linspace(_hz_to_mel(np.array(0.0)), _hz_to_mel(np.array(rate / 2)), n_mels + 2)
    edges = _mel_to_hz(edges_mel)  # n_mels + 2 corner frequencies: filter i spans edges[i]..edges[i+2]
    lower, centre, upper = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    rising = (bin_hz[None, :] - lower) / (centre - lower)
    falling = (upper - bin_hz[None, :]) / (upper - centre)
    filters = np.clip(np.minimum(rising, falling), 0.0, None)
    filters *= 2.0 / (upper - lower)  # unit area ("slaney" norm)
    filters.setflags(write=False)
    return filters


@lru_cache(maxsize=4)
def _hann(n: int) -> F64:
    """Periodic Hann window (the DFT-even one torch.stft and Whisper use)."""
    window = 0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(n) / n)
    window.setflags(write=False)
    return window


def last_window(samples: npt.NDArray[np.floating] | npt.NDArray[np.integer], size: int = WINDOW_SAMPLES) -> F32:
    """The last ``size`` samples, zero-padded at the start when there are fewer."""
    x = np.asarray(samples, dtype=np.float32)
    if x.ndim != 1:
        raise ValueError(f"expected mono samples, got shape {x.shape}")
    if x.size >= size:
        return np.ascontiguousarray(x[x.size - size :])
    out = np.zeros(size, dtype=np.float32)
    out[size - x.size :] = x
    return out


def pcm16_to_float(pcm: bytes) -> F32:
    """Little-endian PCM16 bytes → float32 samples in [-1, 1)."""
    if len(pcm) % 2:
        raise ValueError("PCM16 audio has an even number of bytes")
    return np.frombuffer(pcm, dtype="<i2").astype(np.float32) / 32768.0


def log_mel(window: npt.NDArray[np.floating], n_mels: int = N_MELS) -> F32:
    """Whisper log-mel features of one window of 16 kHz samples: ``(n_mels, len(window) // HOP)``.

    The window is normalised to zero mean and unit variance first (steps 2–5 of the module doc).
    """
    x = np.asarray(window, dtype=np.float32)
    if x.ndim != 1 or x.size < N_FFT:
        raise ValueError(f"expected at least {N_FFT} mono samples, got shape {x.shape}")
    x = (x - x.mean()) / np.sqrt(x.var() + _NORMALIZE_EPS)
    padded = np.pad(x.astype(np.float64), N_FFT // 2, mode="reflect")
    frames = np.lib.stride_tricks.sliding_window_view(padded, N_FFT)[::HOP]
    power = np.abs(np.fft.rfft(frames * _hann(N_FFT), axis=1)) ** 2  # (n_frames, n_fft // 2 + 1)
    mel = mel_filterbank(n_mels) @ power[:-1].T  # drop the last frame: (n_mels, len // HOP)
    logs: F64 = np.log10(np.maximum(mel, _LOG_FLOOR))
    logs = np.maximum(logs, logs.max() - _DYNAMIC_RANGE)
    features: F32 = ((logs + 4.0) / 4.0).astype(np.float32)
    return features


def smart_turn_features(pcm16k: bytes) -> F32:
    """The model input for a turn's audio (PCM16, 16 kHz): ``(1, 80, 800)``, last 8 s."""
    features: F32 = np.expand_dims(log_mel(last_window(pcm16_to_float(pcm16k))), 0)
    return features
