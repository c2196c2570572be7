"""Tones and silence (PCM16 mono 16 kHz), and a synthesizer that costs next to nothing.

:class:`ToneSynthesizer` stands in for a remote TTS provider in the capacity benchmark: no
local compute per sentence, just a pre-computed low tone as long as the text would take to
say. The tone is a harmonic buzz (140 Hz and its overtones to 3.4 kHz), not a sine: webrtcvad
calls a pure 150 Hz sine speech at 10% of full scale but not at 20–50%, while this buzz is
speech to it at every level from 5% to 60%, directly and through the carrier's μ-law (a
100 Hz buzz is not, at 20–25%). So a simulated callee speaking it takes turns like one
speaking words.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from functools import lru_cache

import numpy as np
import numpy.typing as npt

from callwright.voice.audio import FRAME_MS, SAMPLE_RATE

_RAMP_MS = 5  # fade in and out: no clicks at the edges
_F64 = npt.NDArray[np.float64]


def _samples(duration_ms: int) -> int:
    return max(0, round(SAMPLE_RATE * duration_ms / 1000))


def tone(freq_hz: float, duration_ms: int, amplitude: float = 0.5) -> bytes:
    """A sine at ``amplitude`` of full scale, with 5 ms fades."""
    n = _samples(duration_ms)
    x = amplitude * 32767 * np.sin(2 * np.pi * freq_hz * np.arange(n) / SAMPLE_RATE)
    return _pcm(_fade_out(_fade_in(x)))


def silence(duration_ms: int) -> bytes:
    return bytes(2 * _samples(duration_ms))


class ToneSynthesizer:
    """Synthesizer with near-zero compute: ~60 ms of low tone per character of text.

    Nothing is synthesized per call: the audio is cut from one pre-computed second of buzz
    (140 whole periods, so copies join seamlessly), in whole 20 ms frames, with 5 ms fades.
    """

    MS_PER_CHAR = 60
    F0_HZ = 140  # whole periods per second; see the module notes for why this pitch
    AMPLITUDE = 0.3

    async def synthesize(self, text: str) -> AsyncIterator[bytes]:
        if audio := self.synthesize_sync(text):
            yield audio

    def synthesize_sync(self, text: str) -> bytes:
        chars = len(text.strip())
        if not chars:
            return b""
        frames = max(1, round(chars * self.MS_PER_CHAR / FRAME_MS))
        return _stand_in(frames * FRAME_MS)


def _stand_in(duration_ms: int) -> bytes:
    opening, second = _second_of_buzz()
    size = 2 * _samples(duration_ms)
    if size <= len(opening):
        audio = opening[:size]
    else:
        whole, rest = divmod(size - len(opening), len(second))
        audio = opening + second * whole + second[:rest]
    cut = size - 2 * min(size // 2, 2 * _samples(_RAMP_MS))  # the last 10 ms: fade its second half
    ending = _fade_out(np.frombuffer(audio[cut:], dtype="<i2").astype(np.float64))
    return audio[:cut] + _pcm(ending)


@lru_cache(maxsize=1)
def _second_of_buzz() -> tuple[bytes, bytes]:
    """One second of buzz with a fade-in, and one without (to follow it)."""
    f0 = ToneSynthesizer.F0_HZ
    t = np.arange(SAMPLE_RATE) / SAMPLE_RATE
    x = np.zeros_like(t)
    for k in range(1, 3400 // f0 + 1):  # harmonics falling as 1/k^1.5: voiced, vowel-like
        x += np.sin(2 * np.pi * f0 * k * t) / k**1.5
    x *= ToneSynthesizer.AMPLITUDE * 32767 / np.max(np.abs(x))
    return _pcm(_fade_in(x.copy())), _pcm(x)


def _ramp(n: int) -> _F64:
    return np.sin(np.linspace(0, np.pi / 2, n, endpoint=False)) ** 2


def _fade_in(x: _F64) -> _F64:
    n = min(len(x) // 2, _samples(_RAMP_MS))
    x[:n] *= _ramp(n)
    return x


def _fade_out(x: _F64) -> _F64:
    n = min(len(x) // 2, _samples(_RAMP_MS))
    x[len(x) - n :] *= _ramp(n)[::-1]
    return x


def _pcm(x: _F64) -> bytes:
    return np.clip(np.rint(x), -32768, 32767).astype("<i2").tobytes()
