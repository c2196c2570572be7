"""μ-law, resampling and carrier framing, on real signals."""

from __future__ import annotations

import math
import struct
import sys
import warnings

import numpy as np
import pytest

from callwright.voice.audio import (
    CARRIER_FRAME_BYTES,
    CARRIER_RATE,
    FRAME_BYTES,
    SAMPLE_RATE,
    CarrierDecoder,
    CarrierEncoder,
    FrameSplitter,
    Resampler,
    pcm_duration_ms,
    ulaw_decode,
    ulaw_encode,
)


def pcm(samples: np.ndarray) -> bytes:
    return np.clip(np.rint(samples), -32768, 32767).astype("<i2").tobytes()


def samples(data: bytes) -> np.ndarray:
    return np.frombuffer(data, dtype="<i2").astype(np.float64)


def sine(freq: float, seconds: float, rate: int, amplitude: float = 10000.0) -> np.ndarray:
    t = np.arange(round(seconds * rate)) / rate
    return amplitude * np.sin(2 * np.pi * freq * t)


def level_db(x: np.ndarray, freq: float, rate: int, ref: float = 10000.0) -> float:
    """Amplitude of one frequency component, in dB relative to ``ref``."""
    t = np.arange(len(x)) / rate
    amp = abs(np.dot(x, np.exp(-2j * np.pi * freq * t))) * 2 / len(x)
    return 20 * math.log10(amp / ref + 1e-12)


def in_chunks(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


ALL_SAMPLES = np.arange(-32768, 32768).astype("<i2").tobytes()


# --- μ-law ---------------------------------------------------------------------------------


def test_ulaw_known_values() -> None:
    assert ulaw_decode(bytes([0xFF, 0x00, 0x80, 0x7F])) == struct.pack("<4h", 0, -32124, 32124, 0)
    assert ulaw_encode(struct.pack("<5h", 0, -32124, 32124, 32767, -32768)) == bytes([0xFF, 0x00, 0x80, 0x80, 0x00])
    # 0xFE is one step above zero; 0xEF and 0xDF open segments 1 and 2.
    assert ulaw_decode(bytes([0xFE, 0xEF, 0xDF])) == struct.pack("<3h", 8, 132, 396)


def test_ulaw_every_code_survives_a_round_trip() -> None:
    codes = bytes(range(256))
    back = ulaw_encode(ulaw_decode(codes))
    # 0x7F is "negative zero": it decodes to 0, which encodes as 0xFF.
    assert back == codes.replace(b"\x7f", b"\xff")


def test_ulaw_round_trip_error_is_within_a_quantisation_step() -> None:
    x = samples(ALL_SAMPLES)
    err = np.abs(samples(ulaw_decode(ulaw_encode(ALL_SAMPLES))) - x)
    inside = np.abs(x) <= 32124  # beyond that μ-law clips
    assert np.all(err[inside] <= (np.abs(x[inside]) + 132) / 16 + 4)
    assert err.max() <= 644  # the clip: -32768 -> -32124


def test_ulaw_signal_to_noise_on_speech_level_sine() -> None:
    x = sine(440, 1.0, 8000, amplitude=8000)
    y = samples(ulaw_decode(ulaw_encode(pcm(x))))
    snr = 10 * math.log10(np.sum(x**2) / np.sum((y - x) ** 2))
    assert snr > 35  # G.711 is ~38 dB


@pytest.mark.skipif(sys.version_info >= (3, 13), reason="audioop left the standard library in 3.13")
def test_ulaw_matches_the_reference_implementation_bit_for_bit() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import audioop

    assert ulaw_encode(ALL_SAMPLES) == audioop.lin2ulaw(ALL_SAMPLES, 2)
    assert ulaw_decode(bytes(range(256))) == audioop.ulaw2lin(bytes(range(256)), 2)


# --- Resampler -----------------------------------------------------------------------------


@pytest.mark.parametrize(("in_rate", "out_rate"), [(8000, 16000), (16000, 8000), (22050, 16000), (24000, 16000)])
def test_resampler_stream_length_is_exact(in_rate: int, out_rate: int) -> None:
    rs = Resampler(in_rate, out_rate)
    data = pcm(np.random.default_rng(1).normal(0, 3000, in_rate))
    out = b"".join(rs.process(c) for c in in_chunks(data, in_rate // 50 * 2)) + rs.flush()
    assert len(out) // 2 == out_rate


@pytest.mark.parametrize(("in_rate", "out_rate"), [(8000, 16000), (16000, 8000), (24000, 16000), (16000, 24000)])
def test_resampler_holds_back_under_two_ms_and_stays_aligned(in_rate: int, out_rate: int) -> None:
    rs = Resampler(in_rate, out_rate)
    assert rs.delay_ms <= 2.0
    x = np.zeros(in_rate // 2)
    x[in_rate // 10] = 20000  # a click at 100 ms
    chunks = in_chunks(pcm(x), in_rate // 50 * 2)
    got = b""
    for fed, chunk in enumerate(chunks, start=1):
        got += rs.process(chunk)
        expected = fed * 20 * out_rate // 1000
        held_ms = (expected - len(got) // 2) * 1000 / out_rate
        assert 0 <= held_ms <= rs.delay_ms
    y = samples(got + rs.flush())
    # No group delay in the output: the click stays at 100 ms.
    assert abs(int(np.argmax(np.abs(y))) - out_rate // 10) <= 1


def test_resampler_keeps_the_band_and_removes_what_would_alias() -> None:
    def through(freq: float) -> np.ndarray:
        rs = Resampler(16000, 8000)
        data = pcm(sine(freq, 1.0, 16000))
        return samples(b"".join(rs.process(c) for c in in_chunks(data, 640)) + rs.flush())[400:-400]

    assert abs(level_db(through(1000), 1000, 8000)) < 0.5
    assert abs(level_db(through(3000), 3000, 8000)) < 1.0
    # 6 kHz would fold onto 2 kHz without the anti-alias filter (soxr QQ alone passes it at 0 dB).
    assert level_db(through(6000), 2000, 8000) < -40


def test_resampler_at_other_ratios_is_band_limited_too() -> None:
    def through(freq: float) -> np.ndarray:
        rs = Resampler(24000, 16000)  # soxr QQ and the FIR
        data = pcm(sine(freq, 1.0, 24000))
        return samples(b"".join(rs.process(c) for c in in_chunks(data, 960)) + rs.flush())[800:-800]

    assert abs(level_db(through(1000), 1000, 16000)) < 0.5
    assert level_db(through(10000), 6000, 16000) < -40  # 10 kHz would fold onto 6 kHz


def test_resampler_handles_odd_byte_splits() -> None:
    data = pcm(sine(700, 0.2, 8000))
    whole = Resampler(8000, 16000)
    expected = whole.process(data) + whole.flush()
    split = Resampler(8000, 16000)
    got = b"".join(split.process(data[i : i + 37]) for i in range(0, len(data), 37)) + split.flush()
    assert got == expected


def test_resampler_is_reusable_after_flush_and_same_rate_passes_through() -> None:
    rs = Resampler(16000, 8000)
    data = pcm(sine(500, 0.1, 16000))
    first = rs.process(data) + rs.flush()
    second = rs.process(data) + rs.flush()
    assert first == second
    same = Resampler(16000, 16000)
    assert same.process(data) == data
    assert same.flush() == b""


# --- Carrier edge --------------------------------------------------------------------------


def test_carrier_decoder_gives_one_engine_frame_per_carrier_frame() -> None:
    tone = ulaw_encode(pcm(sine(1000, 1.0, CARRIER_RATE)))
    dec = CarrierDecoder()
    frames = [dec.decode(f) for f in in_chunks(tone, CARRIER_FRAME_BYTES)]
    assert all(len(f) == FRAME_BYTES for f in frames)
    y = samples(b"".join(frames))
    assert len(y) == SAMPLE_RATE
    assert abs(level_db(y[800:], 1000, SAMPLE_RATE)) < 0.5
    assert level_db(y[800:], 7000, SAMPLE_RATE) < -40  # the upsampling image


def test_carrier_encoder_frames_and_flush() -> None:
    enc = CarrierEncoder()
    data = pcm(sine(440, 0.5, SAMPLE_RATE))  # 500 ms -> 25 frames
    frames: list[bytes] = []
    for chunk in in_chunks(data, 1000):  # not frame-aligned on purpose
        frames += enc.encode(chunk)
    assert all(len(f) == CARRIER_FRAME_BYTES for f in frames)
    assert len(frames) == 24  # the last frame is still partly inside
    frames += enc.flush()
    assert len(frames) == 25
    assert enc.flush() == []

    enc.encode(bytes(640 * 3 + 100))  # 61.25 ms: 3 whole frames and a quarter
    tail = enc.flush()
    assert len(tail) == 1
    assert tail[0][40:] == b"\xff" * 120  # padded with μ-law silence


def test_carrier_round_trip_keeps_the_voice_band() -> None:
    enc, dec = CarrierEncoder(), CarrierDecoder()
    x = sine(600, 1.0, SAMPLE_RATE) + sine(2200, 1.0, SAMPLE_RATE, amplitude=4000)
    frames = enc.encode(pcm(x)) + enc.flush()
    y = samples(b"".join(dec.decode(f) for f in frames))
    assert abs(level_db(y[1600:-1600], 600, SAMPLE_RATE)) < 1
    assert abs(level_db(y[1600:-1600], 2200, SAMPLE_RATE, ref=4000)) < 1.5


# --- Framing and durations ----------------------------------------------------------------


def test_frame_splitter() -> None:
    fs = FrameSplitter(4)
    assert fs.push(b"ab") == []
    assert fs.push(b"cdefghij") == [b"abcd", b"efgh"]
    assert fs.flush() == [b"ij\x00\x00"]
    assert fs.flush() == []
    assert FrameSplitter().push(bytes(FRAME_BYTES * 2 + 1))[1] == bytes(FRAME_BYTES)


def test_pcm_duration_ms() -> None:
    assert pcm_duration_ms(bytes(FRAME_BYTES)) == 20.0
    assert pcm_duration_ms(bytes(CARRIER_FRAME_BYTES * 2), CARRIER_RATE) == 20.0
    assert pcm_duration_ms(b"") == 0.0


def test_high_quality_resampler_for_faster_than_real_time_producers() -> None:
    rs = Resampler(22050, 16000, low_latency=False)
    data = pcm(sine(1000, 1.0, 22050) + sine(9000, 1.0, 22050))
    out = b"".join(rs.process(c) for c in in_chunks(data, 2646)) + rs.flush()
    assert len(out) // 2 == 16000
    y = samples(out)[800:-800]
    assert abs(level_db(y, 1000, 16000)) < 0.1
    assert level_db(y, 7000, 16000) < -60  # 9 kHz is above the new Nyquist: it must not fold to 7


@pytest.mark.parametrize("chunk", [7, 160, 1000])
def test_two_to_one_resamplers_equal_the_plain_filter(chunk: int) -> None:
    from callwright.voice.audio import _lowpass

    taps = _lowpass(8000, 16000)
    delay = len(taps) // 2
    rng = np.random.default_rng(3)

    x16 = np.round(rng.normal(0, 3000, 3201))  # an odd length on purpose
    down = Resampler(16000, 8000)
    data = pcm(x16)
    got = samples(b"".join(down.process(c) for c in in_chunks(data, 2 * chunk)) + down.flush())
    expected = np.convolve(x16, taps)[delay : delay + len(x16)][0::2]  # filter, then keep every other
    assert len(got) == len(expected)
    assert np.max(np.abs(got - expected)) <= 1

    x8 = np.round(rng.normal(0, 3000, 801))
    up = Resampler(8000, 16000)
    data = pcm(x8)
    got = samples(b"".join(up.process(c) for c in in_chunks(data, 2 * chunk)) + up.flush())
    stuffed = np.zeros(2 * len(x8))
    stuffed[0::2] = x8
    expected = np.clip(2 * np.convolve(stuffed, taps)[delay : delay + len(stuffed)], -32768, 32767)
    assert len(got) == len(expected)
    assert np.max(np.abs(got - expected)) <= 1
