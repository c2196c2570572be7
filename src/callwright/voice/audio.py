"""Audio plumbing for the engine: G.711 μ-law, streaming resampling, carrier framing.

Inside the engine audio is PCM16 little-endian mono at 16 kHz, as ``bytes``. The carrier edge
is G.711 μ-law at 8 kHz in 20 ms frames of 160 bytes.

Resampling latency. soxr's filtered qualities work in blocks and hold output back: measured
with 20 ms chunks, LQ withholds 50–60 ms and MQ/HQ/VHQ 100–120 ms. Only ``QQ`` (cubic
interpolation) is low-latency: it holds back 4 samples (0.25 ms at 16 kHz). QQ does no
band-limiting, though: 16 → 8 kHz with QQ alone folds 4–8 kHz straight into the telephone band
(a 6 kHz tone comes out as 2 kHz at 0 dB). So :class:`Resampler` wraps a QQ stream with a short
linear-phase FIR low-pass, run at the higher of the two rates (before soxr when downsampling,
after it when upsampling). For 8 ↔ 16 kHz that is 41 taps: 1.25 ms of delay, flat to 3.4 kHz,
-50 dB from 4.6 kHz. Audio held back in all: ≤ 1.5 ms (measured in tests/voice/test_audio.py).
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
import soxr

SAMPLE_RATE = 16000
CARRIER_RATE = 8000
FRAME_MS = 20
FRAME_BYTES = SAMPLE_RATE * FRAME_MS // 1000 * 2  # 640: 20 ms of PCM16 at 16 kHz
CARRIER_FRAME_BYTES = CARRIER_RATE * FRAME_MS // 1000  # 160: 20 ms of μ-law at 8 kHz
ULAW_SILENCE = 0xFF

_F64 = npt.NDArray[np.float64]
_I16 = npt.NDArray[np.int16]


# --- G.711 μ-law -------------------------------------------------------------------------


def _ulaw_decode_table() -> _I16:
    u = ~np.arange(256, dtype=np.int32) & 0xFF
    exponent = (u >> 4) & 0x07
    mantissa = u & 0x0F
    magnitude = (((mantissa << 3) + 0x84) << exponent) - 0x84
    return np.where(u & 0x80, -magnitude, magnitude).astype(np.int16)


def _g711_ulaw_encode(samples: npt.NDArray[np.int32]) -> npt.NDArray[np.uint8]:
    """G.711 μ-law encoding of 16-bit samples, vectorised.

    The reference (Sun's g711.c, also CPython's audioop) takes the top 14 bits of the sample,
    adds a bias of 33, clips at 8159 and codes the segment and the 4 bits below its leading one.
    """
    pcm = samples >> 2  # 16-bit -> 14-bit, arithmetic shift as in the reference
    negative = pcm < 0
    magnitude = np.minimum(np.where(negative, -pcm, pcm), 8159) + 33  # 33..8192
    # Segment = position of the leading one above bit 5: 33..63 -> 0, ..., 4096..8191 -> 7;
    # 8192 (the clip) is past the last segment and takes the top code.
    segment = np.floor(np.log2(magnitude)).astype(np.int32) - 5
    mantissa = (magnitude >> (segment + 1)) & 0x0F
    code = np.where(segment > 7, 0x7F, (segment << 4) | mantissa)
    return (code ^ np.where(negative, 0x7F, 0xFF)).astype(np.uint8)


_ULAW_TO_PCM = _ulaw_decode_table()
_ULAW_TO_F64 = _ULAW_TO_PCM.astype(np.float64)
# Indexed by a sample's bits read as uint16: 64 KiB, one lookup per sample.
_PCM_TO_ULAW = _g711_ulaw_encode(np.arange(65536, dtype=np.uint16).view(np.int16).astype(np.int32))


def ulaw_decode(data: bytes) -> bytes:
    """G.711 μ-law bytes to PCM16 little-endian at the same rate (one sample per byte)."""
    return _ULAW_TO_PCM[np.frombuffer(data, dtype=np.uint8)].astype("<i2", copy=False).tobytes()


def ulaw_encode(pcm: bytes) -> bytes:
    """PCM16 little-endian to G.711 μ-law bytes (one byte per sample)."""
    codes: npt.NDArray[np.uint8] = _PCM_TO_ULAW[np.frombuffer(pcm, dtype="<u2")]
    return codes.tobytes()


# --- Resampling --------------------------------------------------------------------------


def _lowpass(low_rate: int, high_rate: int) -> _F64:
    """Kaiser-windowed sinc at the higher rate, cut at the lower rate's Nyquist frequency.

    About -50 dB from 1.15 x the low Nyquist on. For 8 <-> 16 kHz: 41 taps, 1.25 ms of delay,
    flat to 3.4 kHz and -50 dB from 4.6 kHz, so nothing that folds into the telephone band
    survives.
    """
    half_len = math.ceil(9.75 * high_rate / low_rate)
    n = np.arange(-half_len, half_len + 1)
    taps: _F64 = np.sinc(low_rate / high_rate * n) * np.kaiser(2 * half_len + 1, 4.53)
    normalised: _F64 = taps / taps.sum()
    return normalised


class _Fir:
    """Streaming linear-phase FIR whose output is shifted back by its own delay.

    The first ``delay`` outputs are dropped and :meth:`flush` feeds ``delay`` zeros, so a whole
    stream comes out exactly as long as it went in, aligned with it.
    """

    def __init__(self, taps: _F64) -> None:
        self._taps = taps
        self.delay = (len(taps) - 1) // 2
        self.reset()

    def reset(self) -> None:
        self._history = np.zeros(len(self._taps) - 1)
        self._skip = self.delay

    def process(self, x: _F64) -> _F64:
        if len(x) == 0:
            return x
        buf = np.concatenate((self._history, x))
        self._history = buf[len(x) :]
        y: _F64 = np.convolve(buf, self._taps, mode="valid")
        if self._skip:
            drop = min(self._skip, len(y))
            self._skip -= drop
            y = y[drop:]
        return y

    def flush(self) -> _F64:
        owed = self.delay - self._skip  # outputs still due for input already taken
        y = self.process(np.zeros(self.delay))[:owed]
        self.reset()
        return y


class Resampler:
    """Streaming PCM16 mono resampler: soxr ``QQ`` (low latency) plus an anti-alias FIR.

    ``process`` returns what is ready (:attr:`delay_ms` of audio is held back); ``flush``
    returns the rest and readies the resampler for a fresh stream. Over a whole stream the
    output has ``len * out_rate / in_rate`` samples (±1), time-aligned with the input.

    ``low_latency=False`` is for producers faster than real time (speech synthesis): plain soxr
    ``HQ``, which holds back ~100 ms of audio, but only until the producer's next chunk, which
    arrives within a millisecond or so. It is better filtered, and at 22.05 -> 16 kHz about
    a third cheaper than QQ plus the FIR.
    """

    QUALITY = "QQ"
    _SOXR_HELD = 4  # output samples soxr QQ keeps back at most (measured: 1 to 4 by ratio)

    def __init__(self, in_rate: int, out_rate: int, low_latency: bool = True) -> None:
        if in_rate <= 0 or out_rate <= 0:
            raise ValueError("sample rates must be positive")
        self.in_rate = in_rate
        self.out_rate = out_rate
        self._odd = b""  # a trailing half sample, kept for the next call
        self._stream: soxr.ResampleStream | None = None
        self._pre: _Fir | None = None
        self._post: _Fir | None = None
        self.delay_ms = 0.0
        if in_rate != out_rate and not low_latency:
            self._stream = soxr.ResampleStream(in_rate, out_rate, 1, dtype="float64", quality="HQ")
            self.delay_ms = 120.0  # at most, in 20 ms chunks (measured)
        elif in_rate != out_rate:
            self._stream = soxr.ResampleStream(in_rate, out_rate, 1, dtype="float64", quality=self.QUALITY)
            high = max(in_rate, out_rate)
            fir = _Fir(_lowpass(min(in_rate, out_rate), high))
            if out_rate < in_rate:
                self._pre = fir
            else:
                self._post = fir
            self.delay_ms = fir.delay * 1000 / high + self._SOXR_HELD * 1000 / out_rate

    def process(self, pcm: bytes) -> bytes:
        if self._odd:
            pcm = self._odd + pcm
            self._odd = b""
        if len(pcm) % 2:
            self._odd = pcm[-1:]
            pcm = pcm[:-1]
        if self._stream is None:
            return pcm
        return _pcm16(self.process_array(np.frombuffer(pcm, dtype="<i2").astype(np.float64)))

    def flush(self) -> bytes:
        self._odd = b""
        return _pcm16(self.flush_array())

    def process_array(self, x: _F64) -> _F64:
        """The same as :meth:`process` on float samples (PCM16 scale), for callers in numpy."""
        if self._stream is None:
            return x
        if self._pre is not None:
            x = self._pre.process(x)
        y: _F64 = self._stream.resample_chunk(x)
        return self._post.process(y) if self._post is not None else y

    def flush_array(self) -> _F64:
        if self._stream is None:
            return np.zeros(0)
        tail = self._pre.flush() if self._pre is not None else np.zeros(0)
        y: _F64 = self._stream.resample_chunk(tail, last=True)
        self._stream.clear()
        if self._post is not None:
            y = np.concatenate((self._post.process(y), self._post.flush()))
        return y


def _pcm16(x: _F64) -> bytes:
    return np.minimum(np.maximum(x, -32768.0), 32767.0).astype("<i2").tobytes()


# --- Carrier edge ------------------------------------------------------------------------


class CarrierDecoder:
    """Carrier μ-law 8 kHz frames in, PCM16 16 kHz out, frame for frame.

    Each call returns exactly four bytes per μ-law byte (a 160-byte frame gives one 640-byte
    engine frame): the resampler's ~1.5 ms of held-back audio is paid once, as leading zeros.
    """

    def __init__(self) -> None:
        self._resampler = Resampler(CARRIER_RATE, SAMPLE_RATE)
        self._pending = b""

    def decode(self, ulaw_frame: bytes) -> bytes:
        want = len(ulaw_frame) * 4
        samples = _ULAW_TO_F64[np.frombuffer(ulaw_frame, dtype=np.uint8)]
        out = self._pending + _pcm16(self._resampler.process_array(samples))
        if len(out) < want:
            # The first frame: the resampler's held-back samples become leading silence. (Later
            # frames come out whole; should one not, padding keeps the stream from stalling.)
            out = bytes(want - len(out)) + out
        self._pending = out[want:]
        return out[:want]


class CarrierEncoder:
    """PCM16 16 kHz in, whole 160-byte μ-law 8 kHz frames out; the remainder waits."""

    def __init__(self) -> None:
        self._resampler = Resampler(SAMPLE_RATE, CARRIER_RATE)
        self._frames = FrameSplitter(CARRIER_FRAME_BYTES, pad=ULAW_SILENCE)

    def encode(self, pcm16k: bytes) -> list[bytes]:
        return self._frames.push(ulaw_encode(self._resampler.process(pcm16k)))

    def flush(self) -> list[bytes]:
        """Everything still held, the last frame padded with μ-law silence; then start afresh."""
        frames = self._frames.push(ulaw_encode(self._resampler.flush()))
        return frames + self._frames.flush()


class FrameSplitter:
    """Cuts a byte stream into whole frames of ``frame_bytes``."""

    def __init__(self, frame_bytes: int = FRAME_BYTES, pad: int = 0) -> None:
        if frame_bytes <= 0:
            raise ValueError("frame_bytes must be positive")
        self.frame_bytes = frame_bytes
        self._pad = bytes([pad])
        self._buf = bytearray()

    def push(self, data: bytes) -> list[bytes]:
        self._buf += data
        n = self.frame_bytes
        whole = len(self._buf) - len(self._buf) % n
        if not whole:
            return []
        frames = [bytes(self._buf[i : i + n]) for i in range(0, whole, n)]
        del self._buf[:whole]
        return frames

    def flush(self) -> list[bytes]:
        """The partial frame left, padded (zeros unless told otherwise); empty when none."""
        if not self._buf:
            return []
        frame = bytes(self._buf) + self._pad * (self.frame_bytes - len(self._buf))
        self._buf.clear()
        return [frame]


def pcm_duration_ms(pcm: bytes, rate: int = SAMPLE_RATE) -> float:
    """Duration of PCM16 mono audio in milliseconds."""
    return len(pcm) / 2 / rate * 1000
