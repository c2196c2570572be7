"""The call recording: stereo WAV, caller on the left, agent on the right.

Stored as PCM16 at 8 kHz: that is exactly what crossed the phone line (both directions are
8 kHz μ-law on the wire), so nothing is lost and a 10-minute call is ~19 MB instead of ~38.
Each side is written at its position on the stream clock (milliseconds since the stream
started), so gaps stay silent and the two channels line up as the caller heard them.

During the call the recorder keeps the wire's μ-law bytes as they are (one byte per sample,
silence as 0xFF) and decodes both channels once, when the WAV is built: writing a frame is a
slice assignment, and no frame is decoded twice (the listener decodes the caller's for itself).
PCM written with :meth:`Recorder.write_caller` / :meth:`Recorder.write_agent` is μ-law encoded,
as the carrier would have.
"""

from __future__ import annotations

import io
import wave
from pathlib import Path

import numpy as np

from callwright.voice.audio import CARRIER_RATE, ULAW_SILENCE, ulaw_decode, ulaw_encode

CALLER = 0
AGENT = 1


class Recorder:
    """Collects both sides of a call on a shared timeline and renders a stereo WAV.

    Audio written past the end of a channel is preceded by silence; audio written before the
    end (overlap on the same side) overwrites, which never happens with in-order frames.
    """

    def __init__(self, sample_rate: int = CARRIER_RATE, max_duration_s: float | None = None) -> None:
        self.sample_rate = sample_rate
        self._channels = (bytearray(), bytearray())  # μ-law, one byte per sample
        self._max_samples = None if max_duration_s is None else int(max_duration_s * sample_rate)

    def write_caller(self, pcm: bytes, at_ms: float) -> None:
        """Caller PCM16 at ``sample_rate`` starting at ``at_ms`` on the stream clock."""
        self._write(CALLER, ulaw_encode(pcm), at_ms)

    def write_agent(self, pcm: bytes, at_ms: float) -> None:
        """Agent PCM16 at ``sample_rate`` starting at ``at_ms`` on the stream clock."""
        self._write(AGENT, ulaw_encode(pcm), at_ms)

    def write_caller_ulaw(self, ulaw: bytes, at_ms: float) -> None:
        """Caller audio as it arrived from the carrier (8 kHz μ-law)."""
        self._write(CALLER, ulaw, at_ms)

    def write_agent_ulaw(self, ulaw: bytes, at_ms: float) -> None:
        """Agent audio as it was sent to the carrier (8 kHz μ-law)."""
        self._write(AGENT, ulaw, at_ms)

    def _write(self, channel: int, ulaw: bytes, at_ms: float) -> None:
        buf = self._channels[channel]
        offset = round(at_ms * self.sample_rate / 1000)
        if self._max_samples is not None:
            if offset >= self._max_samples:
                return
            ulaw = ulaw[: self._max_samples - offset]
        if offset > len(buf):
            buf.extend(_SILENCE * (offset - len(buf)))
        buf[offset : offset + len(ulaw)] = ulaw

    @property
    def duration_ms(self) -> float:
        samples = max(len(c) for c in self._channels)
        return samples * 1000 / self.sample_rate

    def channel(self, which: int) -> bytes:
        """One side as mono PCM16, padded to the length of the longer side."""
        n = max(len(c) for c in self._channels)
        data = bytes(self._channels[which])
        return ulaw_decode(data + _SILENCE * (n - len(data)))

    def to_wav_bytes(self) -> bytes:
        left = np.frombuffer(self.channel(CALLER), dtype="<i2")
        right = np.frombuffer(self.channel(AGENT), dtype="<i2")
        frames = np.empty(len(left) * 2, dtype="<i2")
        frames[0::2] = left
        frames[1::2] = right
        out = io.BytesIO()
        with wave.open(out, "wb") as wav:
            wav.setnchannels(2)
            wav.setsampwidth(2)
            wav.setframerate(self.sample_rate)
            wav.writeframes(frames.tobytes())
        return out.getvalue()

    def write(self, path: str | Path) -> Path:
        target = Path(path)
        target.write_bytes(self.to_wav_bytes())
        return target


_SILENCE = bytes([ULAW_SILENCE])
