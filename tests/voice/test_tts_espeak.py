"""espeak-ng in process, and the tone synthesizers: real audio, through the real carrier path."""

from __future__ import annotations

import asyncio
import threading

import numpy as np
import pytest

from callwright.voice.audio import (
    FRAME_BYTES,
    SAMPLE_RATE,
    CarrierDecoder,
    CarrierEncoder,
    FrameSplitter,
    pcm_duration_ms,
)
from callwright.voice.tts.base import Synthesizer
from callwright.voice.tts.espeak import EspeakSynthesizer, _engine, available_voices
from callwright.voice.tts.tone import ToneSynthesizer, silence, tone
from callwright.voice.vad import SpeechDetector

HELLO = "Hello, this is a test."


def samples(pcm: bytes) -> np.ndarray:
    return np.frombuffer(pcm, dtype="<i2").astype(np.float64)


def rms(pcm: bytes) -> float:
    x = samples(pcm)
    return float(np.sqrt(np.mean(x**2))) if len(x) else 0.0


def through_carrier(pcm: bytes) -> list[bytes]:
    """What the other end hears: 16 kHz -> μ-law 8 kHz frames -> back to 16 kHz frames."""
    enc, dec = CarrierEncoder(), CarrierDecoder()
    return [dec.decode(f) for f in enc.encode(pcm) + enc.flush()]


def native(text: str, voice: str = "en-us") -> bytes:
    engine = _engine()
    chunks: list[bytes] = []
    with engine.lock:
        engine.synth(text, voice, 175, lambda pcm: chunks.append(pcm) is None)
    return b"".join(chunks)


@pytest.fixture(scope="module")
def hello() -> bytes:
    return EspeakSynthesizer().synthesize_sync(HELLO)


def test_it_is_a_synthesizer() -> None:
    synth: Synthesizer = EspeakSynthesizer()
    assert synth.synthesize is not None


def test_hello_is_plausible_speech_at_16k(hello: bytes) -> None:
    assert 500 <= pcm_duration_ms(hello) <= 4000
    assert rms(hello) > 1000  # speech, not silence
    # 16 kHz: as long as espeak's own 22050 Hz rendering, give or take the trimmed silence.
    raw = native(HELLO)
    assert _engine().rate == 22050
    assert abs(len(hello) / 2 / SAMPLE_RATE - len(raw) / 2 / 22050) < 0.1
    # ...and it has content above the 4 kHz an 8 kHz stream could carry.
    spectrum = np.abs(np.fft.rfft(samples(hello)))
    freqs = np.fft.rfftfreq(len(hello) // 2, 1 / SAMPLE_RATE)
    assert spectrum[freqs > 4500].sum() > 0.01 * spectrum.sum()


def test_silence_around_speech_is_at_most_50_ms(hello: bytes) -> None:
    loud = np.flatnonzero(np.abs(samples(hello)) > 64)
    assert loud[0] <= 0.055 * SAMPLE_RATE
    assert len(hello) // 2 - loud[-1] <= 0.055 * SAMPLE_RATE
    # A text that ends in a pause still ends within 50 ms of its last sound.
    paused = EspeakSynthesizer().synthesize_sync("Wait...")
    tail = len(paused) // 2 - np.flatnonzero(np.abs(samples(paused)) > 64)[-1]
    assert tail <= 0.055 * SAMPLE_RATE


def test_speech_survives_the_carrier_and_the_vad_hears_it(hello: bytes) -> None:
    frames = through_carrier(silence(300) + hello + silence(500))
    vad = SpeechDetector()
    heard = [vad.process(f) for f in frames]
    first = heard.index(True)
    speech_frames = round(pcm_duration_ms(hello) / 20)
    assert 15 + 4 <= first <= 15 + 10  # after the start rule, near where the speech begins
    assert sum(heard) >= 0.6 * speech_frames
    assert not any(heard[15 + speech_frames + 10 :])  # quiet again once it has finished


def spectrum_db(pcm: bytes) -> np.ndarray:
    """Long-term average spectrum: the colour of a voice, whatever it says."""
    x = samples(pcm)
    frames = [x[i : i + 512] * np.hanning(512) for i in range(0, len(x) - 512, 256)]
    return 10 * np.log10(np.mean([np.abs(np.fft.rfft(f)) ** 2 for f in frames], axis=0) + 1)


def pitch_hz(pcm: bytes) -> float:
    """Median fundamental frequency over the loud frames, by autocorrelation (80–400 Hz)."""
    x = samples(pcm)
    found = []
    for i in range(0, len(x) - 640, 320):
        frame = x[i : i + 640] - x[i : i + 640].mean()
        if np.sqrt(np.mean(frame**2)) < 1000:
            continue
        ac = np.correlate(frame, frame, "full")[639:]
        lag = 40 + int(np.argmax(ac[40:200]))
        if ac[lag] > 0.5 * ac[0]:
            found.append(SAMPLE_RATE / lag)
    return float(np.median(found))


def test_voices_differ_and_language_names_resolve(hello: bytes) -> None:
    # espeak's output varies a little from one run to the next (its state carries over), so
    # a voice is compared with itself as well as with the others.
    again = EspeakSynthesizer("en-us").synthesize_sync(HELLO)
    gb = EspeakSynthesizer("en-gb").synthesize_sync(HELLO)
    female = EspeakSynthesizer("en-us+f3").synthesize_sync(HELLO)

    def distance(a: bytes, b: bytes) -> float:
        return float(np.mean(np.abs(spectrum_db(a) - spectrum_db(b))))

    same = distance(hello, again)
    assert same < 1.0
    assert distance(hello, gb) > 1.5 + same
    assert distance(hello, female) > 1.5 + same
    assert 80 < pitch_hz(hello) < 140
    assert pitch_hz(female) > 1.5 * pitch_hz(hello)  # the +f3 variant: a female voice

    identifiers = {v.identifier for v in available_voices()}
    assert {"gmw/en", "gmw/en-US"} <= identifiers
    assert _engine().resolve("en-gb") == "gmw/en"  # espeak itself only knows the file name "en"
    assert _engine().resolve("en-gb+f3") == "gmw/en+f3"
    with pytest.raises(ValueError):
        EspeakSynthesizer("xx-nowhere")


def test_speed_changes_duration() -> None:
    slow = EspeakSynthesizer(speed=0.7).synthesize_sync(HELLO)
    fast = EspeakSynthesizer(speed=1.5).synthesize_sync(HELLO)
    assert pcm_duration_ms(slow) > 1.5 * pcm_duration_ms(fast)


def test_text_is_made_speakable_first(monkeypatch: pytest.MonkeyPatch) -> None:
    engine = _engine()
    spoken: list[str] = []
    real = engine.synth
    monkeypatch.setattr(engine, "synth", lambda text, *args: spoken.append(text) or real(text, *args))
    synth = EspeakSynthesizer()
    assert synth.synthesize_sync("It is $500.00.")
    assert spoken == ["It is five hundred dollars."]
    assert synth.synthesize_sync("   ") == b""
    assert spoken == ["It is five hundred dollars."]  # nothing to say: espeak is not called


def close_to(a: bytes, b: bytes) -> bool:
    return abs(len(a) - len(b)) < 0.02 * len(b) and abs(rms(a) - rms(b)) < 0.1 * rms(b)


async def test_async_synthesis_streams_the_same_audio(hello: bytes) -> None:
    chunks = [c async for c in EspeakSynthesizer().synthesize(HELLO)]
    assert len(chunks) > 1  # streamed as espeak produces it, not in one piece
    assert close_to(b"".join(chunks), hello)


async def test_a_consumer_can_stop_early_and_the_engine_stays_usable() -> None:
    synth = EspeakSynthesizer()
    stream = synth.synthesize("This sentence is long enough to come in several chunks, and we leave early.")
    async for _ in stream:
        break
    await stream.aclose()
    again = [c async for c in synth.synthesize(HELLO)]
    assert 500 <= pcm_duration_ms(b"".join(again)) <= 4000


async def test_concurrent_calls_with_different_voices_keep_their_own_voice() -> None:
    us, gb = EspeakSynthesizer("en-us"), EspeakSynthesizer("en-gb")
    alone_us, alone_gb = us.synthesize_sync(HELLO), gb.synthesize_sync(HELLO)

    async def collect(synth: EspeakSynthesizer) -> bytes:
        return b"".join([c async for c in synth.synthesize(HELLO)])

    def voice_of(pcm: bytes) -> str:
        to_us = np.mean(np.abs(spectrum_db(pcm) - spectrum_db(alone_us)))
        to_gb = np.mean(np.abs(spectrum_db(pcm) - spectrum_db(alone_gb)))
        return "us" if to_us < to_gb else "gb"

    results = await asyncio.gather(*(collect(s) for s in (us, gb, us, gb)))
    assert [voice_of(r) for r in results] == ["us", "gb", "us", "gb"]

    threaded: dict[str, bytes] = {}
    workers = [
        threading.Thread(target=lambda s=s, name=name: threaded.update({name: s.synthesize_sync(HELLO)}))
        for s, name in ((us, "us"), (gb, "gb"), (EspeakSynthesizer("en-us"), "us2"))
    ]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert {name: voice_of(pcm) for name, pcm in threaded.items()} == {"us": "us", "gb": "gb", "us2": "us"}


# --- tones ---------------------------------------------------------------------------------


def test_tone_and_silence() -> None:
    beep = tone(1000, 500, amplitude=0.5)
    assert pcm_duration_ms(beep) == 500
    x = samples(beep)
    assert 16000 < np.max(np.abs(x)) <= 0.5 * 32767 + 1
    assert abs(x[0]) < 100 and abs(x[-1]) < 100  # faded: no click
    spectrum = np.abs(np.fft.rfft(x))
    assert abs(np.fft.rfftfreq(len(x), 1 / SAMPLE_RATE)[np.argmax(spectrum)] - 1000) < 5
    assert silence(20) == bytes(FRAME_BYTES)


async def test_tone_synthesizer_is_speech_length_and_heard_as_speech() -> None:
    synth = ToneSynthesizer()
    text = "Hello, this is a test."  # 22 characters -> 1.32 s
    chunks = [c async for c in synth.synthesize(text)]
    audio = b"".join(chunks)
    assert pcm_duration_ms(audio) == 1320
    assert len(audio) % FRAME_BYTES == 0
    assert synth.synthesize_sync(text) == audio
    assert pcm_duration_ms(synth.synthesize_sync("x" * 100)) == 6000  # longer than the stored second
    assert [c async for c in synth.synthesize("  ")] == []
    x = samples(audio)
    assert abs(x[0]) < 100 and abs(x[-1]) < 100

    frames = through_carrier(silence(200) + audio + silence(400))
    vad = SpeechDetector()
    heard = [vad.process(f) for f in frames]
    assert heard.index(True) == 10 + 4
    assert sum(heard) >= 60  # of 66 frames


def test_speech_frames_split_cleanly(hello: bytes) -> None:
    frames = FrameSplitter().push(hello)
    assert all(len(f) == FRAME_BYTES for f in frames)
