"""The call recording: stereo, caller left, agent right, aligned on the stream clock."""

from __future__ import annotations

import io
import wave

import numpy as np

from callwright.voice.audio import ulaw_encode
from callwright.voice.recorder import Recorder


def tone8k(ms: int, freq: float = 440.0) -> bytes:
    t = np.arange(8 * ms) / 8000
    return (np.sin(2 * np.pi * freq * t) * 8000).astype("<i2").tobytes()


def read(wav_bytes: bytes) -> tuple[int, int, np.ndarray]:
    with wave.open(io.BytesIO(wav_bytes)) as wav:
        data = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2").reshape(-1, wav.getnchannels())
        return wav.getnchannels(), wav.getframerate(), data


def test_wav_is_stereo_8khz_pcm16() -> None:
    rec = Recorder()
    rec.write_caller(tone8k(100), 0)
    channels, rate, _ = read(rec.to_wav_bytes())
    assert (channels, rate) == (2, 8000)


def test_caller_is_left_and_agent_is_right() -> None:
    rec = Recorder()
    rec.write_caller(tone8k(200), 0)
    rec.write_agent(tone8k(200), 500)
    _, _, data = read(rec.to_wav_bytes())
    left, right = data[:, 0].astype(float), data[:, 1].astype(float)
    assert np.abs(left[:1600]).mean() > 1000 and np.abs(right[:1600]).mean() == 0
    assert np.abs(right[4000:5600]).mean() > 1000 and np.abs(left[4000:5600]).mean() == 0


def test_audio_lands_at_its_stream_time() -> None:
    rec = Recorder()
    rec.write_agent(tone8k(100), 1000)
    right = rec.channel(1)
    samples = np.frombuffer(right, dtype="<i2")
    first = int(np.argmax(np.abs(samples) > 0))
    assert 8000 <= first <= 8010
    assert rec.duration_ms == 1100


def test_ulaw_frames_are_decoded() -> None:
    rec = Recorder()
    rec.write_caller_ulaw(ulaw_encode(tone8k(20)), 0)
    assert len(rec.channel(0)) == 320
    assert np.abs(np.frombuffer(rec.channel(0), dtype="<i2")).max() > 5000


def test_recording_stops_at_the_cap() -> None:
    rec = Recorder(max_duration_s=1.0)
    rec.write_caller(tone8k(500), 800)
    assert rec.duration_ms == 1000


def test_write_creates_a_wav_file(tmp_path) -> None:  # type: ignore[no-untyped-def]
    rec = Recorder()
    rec.write_caller(tone8k(100), 0)
    path = rec.write(tmp_path / "call.wav")
    assert read(path.read_bytes())[0] == 2
