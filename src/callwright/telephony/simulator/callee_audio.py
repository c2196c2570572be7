"""The callee's audio: its lines synthesized ahead as carrier frames, the voicemail beep, and
helpers to inspect what it heard."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import numpy as np

from callwright.voice.audio import CARRIER_RATE, SAMPLE_RATE, CarrierEncoder, Resampler, ulaw_decode
from callwright.voice.tts.base import Synthesizer
from callwright.voice.tts.tone import tone

_VOICED_RMS = 300.0  # a frame louder than this (about -40 dBFS) holds speech, not espeak's quiet tail


def ulaw_to_pcm16k(ulaw: bytes) -> bytes:
    """Carrier audio back to the engine's format, for inspecting what the callee heard."""
    resampler = Resampler(CARRIER_RATE, SAMPLE_RATE)
    return resampler.process(ulaw_decode(ulaw)) + resampler.flush()


def beep_frames(freq_hz: float = 1000.0, duration_s: float = 0.5) -> list[bytes]:
    """The voicemail tone as carrier frames (also handy as stand-in agent audio in tests)."""
    encoder = CarrierEncoder()
    return encoder.encode(tone(freq_hz, round(duration_s * 1000))) + encoder.flush()


async def speech_frames(synthesizer: Synthesizer, text: str) -> AsyncIterator[list[bytes]]:
    """Synthesize ``text`` and yield carrier frames as soon as each PCM chunk is converted."""
    encoder = CarrierEncoder()
    async for pcm in synthesizer.synthesize(text):
        frames = encoder.encode(pcm)
        if frames:
            yield frames
    tail = encoder.flush()
    if tail:
        yield tail


def last_voiced_frame(frames: list[bytes]) -> int:
    """Index of the last frame that holds sound (RMS above ~-40 dBFS), or -1 when none does."""
    for i in range(len(frames) - 1, -1, -1):
        x = np.frombuffer(ulaw_decode(frames[i]), dtype="<i2").astype(np.float64)
        if float(np.sqrt(np.mean(x * x))) > _VOICED_RMS:
            return i
    return -1


@dataclass
class PreparedLine:
    """A line synthesized before it is needed, so speaking it costs no compute mid-call."""

    frames: list[bytes]
    last_voiced: int  # index of its last frame with sound
