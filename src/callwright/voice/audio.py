"""Audio plumbing for the engine: G.711 μ-law, streaming resampling, carrier framing.

Inside the engine audio is PCM16 little-endian mono at 16 kHz, as ``bytes``. The carrier edge
is G.711 μ-law at 8 kHz in 20 ms frames of 160 bytes.

Resampling latency. soxr's filtered qualities work in blocks and hold output back: measured
with 20 ms chunks, LQ withholds 50–60 ms and MQ/HQ/VHQ 100–120 ms. Only ``QQ`` (cubic
interpolation) is low-latency: it holds back 1–4 samples (≤ 0.25 ms at 16 kHz). QQ does no
band-limiting, though: 16 → 8 kHz with QQ alone folds 4–8 kHz straight into the telephone band
(a 6 kHz tone comes out as 2 kHz at 0 dB). So :class:`Resampler` wraps a QQ stream with a short
linear-phase FIR low-pass, run at the higher of the two rates (before soxr when downsampling,
after it when upsampling). For 8 ↔ 16 kHz, the carrier's conversions, that filter is a 41-tap
half-band (flat to 3.4 kHz, -50 dB from 4.6 kHz, 1.25 ms of delay), and it does the whole job
as a polyphase filter without soxr, at about half the cost per frame (bench/audio_micro.py).
Audio held back: 1.25–1.5 ms (measured in tests/voice/test_audio.py).
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
_ULAW_TO_PCM_LE = _ULAW_TO_PCM.astype("<i2")
_ULAW_TO_F64 = _ULAW_TO_PCM.astype(np.float64)
# Indexed by a sample's bits read as uint16: 64 KiB, one lookup per sample.
_PCM_TO_ULAW = _g711_ulaw_encode(np.arange(65536, dtype=np.uint16).view(np.int16).astype(np.int32))


def ulaw_decode(data: bytes) -> bytes:
    """G.711 μ-law bytes to PCM16 little-endian at the same rate (one sample per byte)."""
    return _ULAW_TO_PCM_LE.take(np.frombuffer(data, dtype=np.uint8)).tobytes()  # take: ~1/3 less than [...]


def ulaw_encode(pcm: bytes) -> bytes:
    """PCM16 little-endian to G.711 μ-law bytes (one byte per sample)."""
    codes: npt.NDArray[np.uint8] = _PCM_TO_ULAW[np.frombuffer(pcm, dtype="<u2")]
    return codes.tobytes()


# --- Resampling --------------------------------------------------------------------------


def _lowpass(low_rate: int, high_rate: int) -> _F64:
    """Kaiser-windowed sinc at the higher rate, cut at the lower rate's Nyquist frequency.

    About -50 dB from 1.15 x the low Nyquist on. For 8 <-> 16 kHz: 41 taps (a half-band
    filter: every other tap is zero), 1.25 ms of delay, flat to 3.4 kHz and -50 dB from
    4.6 kHz, so nothing that folds into the telephone band survives.
    """
    half_len = math.ceil(9.75 * high_rate / low_rate)
    n = np.arange(-half_len, half_len + 1)
    taps: _F64 = np.sinc(low_rate / high_rate * n) * np.kaiser(2 * half_len + 1, 4.53)
    normalised: _F64 = taps / taps.sum()
    return normalised


class _Stage:
    """One resampling method on float samples (PCM16 scale), aligned and length-exact.

    ``process`` drops the method's own delay from the front of the output, and ``flush`` pushes
    the held-back samples out, so a whole stream comes out as long as it went in (times the
    ratio) and time-aligned with it. ``flush`` also readies the stage for a fresh stream.
    """

    delay_ms = 0.0

    def process(self, x: _F64) -> _F64:
        return x

    def flush(self) -> _F64:
        return np.zeros(0)


class _Fir(_Stage):
    """Streaming linear-phase FIR filter."""

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


class _SoxrQuick(_Stage):
    """soxr ``QQ`` (0.06–0.25 ms held back) with the anti-alias FIR at the higher rate."""

    HELD = 4  # output samples soxr QQ keeps back at most (measured: 1 to 4 by ratio)

    def __init__(self, in_rate: int, out_rate: int) -> None:
        self._soxr = soxr.ResampleStream(in_rate, out_rate, 1, dtype="float64", quality="QQ")
        high = max(in_rate, out_rate)
        fir = _Fir(_lowpass(min(in_rate, out_rate), high))
        self._pre = fir if out_rate < in_rate else None
        self._post = fir if out_rate > in_rate else None
        self.delay_ms = fir.delay * 1000 / high + self.HELD * 1000 / out_rate

    def process(self, x: _F64) -> _F64:
        if self._pre is not None:
            x = self._pre.process(x)
        y: _F64 = self._soxr.resample_chunk(x)
        return self._post.process(y) if self._post is not None else y

    def flush(self) -> _F64:
        tail = self._pre.flush() if self._pre is not None else np.zeros(0)
        y: _F64 = self._soxr.resample_chunk(tail, last=True)
        self._soxr.clear()
        if self._post is not None:
            y = np.concatenate((self._post.process(y), self._post.flush()))
        return y


class _SoxrHigh(_Stage):
    """soxr ``HQ``: ~100 ms held back, for producers faster than real time."""

    delay_ms = 120.0  # at most, fed in 20 ms chunks (measured)

    def __init__(self, in_rate: int, out_rate: int) -> None:
        self._soxr = soxr.ResampleStream(in_rate, out_rate, 1, dtype="float64", quality="HQ")

    def process(self, x: _F64) -> _F64:
        y: _F64 = self._soxr.resample_chunk(x)
        return y

    def flush(self) -> _F64:
        y: _F64 = self._soxr.resample_chunk(np.zeros(0), last=True)
        self._soxr.clear()
        return y


class _HalfBandUp(_Stage):
    """x2 by polyphase half-band FIR: the same filter as :class:`_SoxrQuick`, a third the work.

    On the zero-stuffed signal, the even outputs meet only the centre tap (a plain delayed copy
    of the input) and the odd outputs the odd taps: one short convolution at the input rate.
    """

    def __init__(self, rate: int) -> None:
        taps = 2 * _lowpass(rate, 2 * rate)  # x2: zero-stuffing halves the level
        self._odd_taps = taps[1::2].copy()
        self._centre = float(taps[len(taps) // 2])
        self._lag = len(self._odd_taps) // 2  # input samples from a phase's start to the centre
        self._delay = len(taps) // 2  # in output samples
        self.delay_ms = self._delay * 1000 / (2 * rate)
        self._reset()

    def _reset(self) -> None:
        self._history = np.zeros(len(self._odd_taps) - 1)
        self._skip = self._delay

    def process(self, x: _F64) -> _F64:
        if len(x) == 0:
            return x
        buf = np.concatenate((self._history, x))
        self._history = buf[len(x) :]
        n = len(x)
        y = np.empty(2 * n)
        start = len(buf) - n - self._lag
        y[0::2] = buf[start : start + n] * self._centre
        y[1::2] = np.convolve(buf, self._odd_taps, mode="valid")
        if self._skip:
            drop = min(self._skip, len(y))
            self._skip -= drop
            y = y[drop:]
        return y

    def flush(self) -> _F64:
        owed = self._delay - self._skip  # as many as were dropped from the front
        y = self.process(np.zeros(self._delay // 2))[:owed]
        self._reset()
        return y


class _HalfBandDown(_Stage):
    """/2 by polyphase half-band FIR: only the outputs kept are computed.

    Each kept output meets the centre tap on an even input and the odd taps on the odd
    inputs: one short convolution at the output rate.
    """

    def __init__(self, rate: int) -> None:
        taps = _lowpass(rate // 2, rate)
        self._odd_taps = taps[1::2].copy()
        self._centre = float(taps[len(taps) // 2])
        self.delay_ms = (len(taps) // 2) * 1000 / rate
        self._reset()

    def _reset(self) -> None:
        self._odd_history = np.zeros(len(self._odd_taps) - 1)
        self._lag = len(self._odd_taps) // 2 - 1  # outputs between an input pair and its centre tap
        self._even_history = np.zeros(self._lag)
        self._spare = np.zeros(0)  # an odd input sample waiting for its pair
        self._skip = self._lag
        self._taken = 0

    def process(self, x: _F64) -> _F64:
        if len(self._spare):
            x = np.concatenate((self._spare, x))
        pairs = len(x) // 2
        self._spare = x[2 * pairs :]
        if not pairs:
            return np.zeros(0)
        self._taken += pairs
        odd = np.concatenate((self._odd_history, x[1 : 2 * pairs : 2]))
        even = np.concatenate((self._even_history, x[0 : 2 * pairs : 2]))
        self._odd_history = odd[pairs:]
        self._even_history = even[pairs:]
        y: _F64 = np.convolve(odd, self._odd_taps, mode="valid") + even[:pairs] * self._centre
        if self._skip:
            drop = min(self._skip, len(y))
            self._skip -= drop
            y = y[drop:]
        return y

    def flush(self) -> _F64:
        pairs = self._taken + len(self._spare)  # a lone last sample makes a last pair with a zero
        owed = pairs - (self._taken - (self._lag - self._skip))  # outputs due minus outputs given
        y = self.process(np.zeros(2 * self._lag + len(self._spare)))[:owed]
        self._reset()
        return y


class Resampler:
    """Streaming PCM16 mono resampler, low-latency by default.

    ``process`` returns what is ready (:attr:`delay_ms` of audio is held back); ``flush``
    returns the rest and readies the resampler for a fresh stream. Over a whole stream the
    output has ``len * out_rate / in_rate`` samples (±1), time-aligned with the input.

    Low latency (the default): soxr ``QQ`` plus the anti-alias FIR, except for exact 2:1 ratios
    (the carrier's 8 <-> 16 kHz), where the same half-band filter runs as a polyphase filter in
    numpy without soxr: same output band, about half the time per frame. ``low_latency=False``
    is for producers faster than real time (speech synthesis): plain soxr ``HQ``, which holds
    back ~100 ms of audio but only until the producer's next chunk, within a millisecond or so.
    """

    def __init__(self, in_rate: int, out_rate: int, low_latency: bool = True) -> None:
        if in_rate <= 0 or out_rate <= 0:
            raise ValueError("sample rates must be positive")
        self.in_rate = in_rate
        self.out_rate = out_rate
        self._odd = b""  # a trailing half sample, kept for the next call
        self._stage: _Stage
        if in_rate == out_rate:
            self._stage = _Stage()
        elif not low_latency:
            self._stage = _SoxrHigh(in_rate, out_rate)
        elif out_rate == 2 * in_rate:
            self._stage = _HalfBandUp(in_rate)
        elif in_rate == 2 * out_rate:
            self._stage = _HalfBandDown(in_rate)
        else:
            self._stage = _SoxrQuick(in_rate, out_rate)
        self.delay_ms = self._stage.delay_ms

    def process(self, pcm: bytes) -> bytes:
        if self._odd:
            pcm = self._odd + pcm
            self._odd = b""
        if len(pcm) % 2:
            self._odd = pcm[-1:]
            pcm = pcm[:-1]
        if self.in_rate == self.out_rate:
            return pcm
        return _pcm16(self._stage.process(np.frombuffer(pcm, dtype="<i2").astype(np.float64)))

    def flush(self) -> bytes:
        self._odd = b""
        return _pcm16(self._stage.flush())

    def process_array(self, x: _F64) -> _F64:
        """The same as :meth:`process` on float samples (PCM16 scale), for callers in numpy."""
        return self._stage.process(x)

    def flush_array(self) -> _F64:
        return self._stage.flush()


def _pcm16(x: _F64) -> bytes:
    return np.minimum(np.maximum(x, -32768.0), 32767.0).astype("<i2").tobytes()


# --- Carrier edge ------------------------------------------------------------------------


class CarrierDecoder:
    """Carrier μ-law 8 kHz frames in, PCM16 16 kHz out, frame for frame.

    Each call returns exactly four bytes per μ-law byte (a 160-byte frame gives one 640-byte
    engine frame): the resampler's 1.25 ms of held-back audio is paid once, as leading zeros.
    ``upsample`` does the same from PCM16 at 8 kHz (two bytes out per byte in), for callers that
    decoded the μ-law themselves.
    """

    def __init__(self) -> None:
        self._resampler = Resampler(CARRIER_RATE, SAMPLE_RATE)
        self._pending = b""

    def decode(self, ulaw_frame: bytes) -> bytes:
        return self._emit(_ULAW_TO_F64[np.frombuffer(ulaw_frame, dtype=np.uint8)], len(ulaw_frame) * 4)

    def upsample(self, pcm8k: bytes) -> bytes:
        return self._emit(np.frombuffer(pcm8k, dtype="<i2").astype(np.float64), len(pcm8k) * 2)

    def _emit(self, samples: _F64, want: int) -> bytes:
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
