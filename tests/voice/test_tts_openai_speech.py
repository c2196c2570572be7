"""OpenAI's speech endpoint (24 kHz PCM, resampled to 16 kHz), against a local server speaking it."""

from __future__ import annotations

import socket
import time
from collections.abc import AsyncIterator

import numpy as np
import pytest
from tests.fakes.openai_speech_server import FakeSpeechServer, SpeechReply

from callwright.voice.audio import SAMPLE_RATE
from callwright.voice.tts.base import SynthesisError, Synthesizer
from callwright.voice.tts.openai_speech import OpenAISpeechSynthesizer
from callwright.voice.tts.tone import ToneSynthesizer

KEY = "sk-test-key"
SENTENCE = "Hello there, how are you today?"
TIMEOUT_S = 0.3
PROMPT_S = 2.0


def speech_pcm(text: str) -> bytes:
    """What the fake speaks, at 16 kHz: the fake sends this buzz resampled to 24 kHz."""
    return ToneSynthesizer().synthesize_sync(text)


@pytest.fixture
async def fake() -> AsyncIterator[FakeSpeechServer]:
    async with FakeSpeechServer(api_key=KEY) as server:
        yield server


def synthesizer(fake: FakeSpeechServer, **options: object) -> OpenAISpeechSynthesizer:
    settings: dict[str, object] = {"base_url": fake.base_url, "timeout_s": TIMEOUT_S}
    settings.update(options)
    return OpenAISpeechSynthesizer(KEY, **settings)  # type: ignore[arg-type]


async def speak(synth: OpenAISpeechSynthesizer, text: str = SENTENCE) -> bytes:
    return b"".join([chunk async for chunk in synth.synthesize(text)])


async def failure(synth: OpenAISpeechSynthesizer) -> tuple[SynthesisError, float]:
    t0 = time.monotonic()
    with pytest.raises(SynthesisError) as caught:
        await speak(synth)
    return caught.value, time.monotonic() - t0


def samples(pcm: bytes) -> np.ndarray:
    return np.frombuffer(pcm, dtype="<i2").astype(np.float64)


def test_it_is_a_synthesizer() -> None:
    synth: Synthesizer = OpenAISpeechSynthesizer(KEY)
    assert synth.synthesize is not None


async def test_a_sentence_comes_back_as_16k_pcm_of_its_duration(fake: FakeSpeechServer) -> None:
    audio = await speak(synthesizer(fake))
    assert len(audio) % 2 == 0
    assert len(audio) / 2 / SAMPLE_RATE == pytest.approx(len(SENTENCE) * 0.060, abs=0.02)
    assert abs(len(audio) - len(speech_pcm(SENTENCE))) <= 4


async def test_the_resampled_audio_is_the_sound_the_server_spoke(fake: FakeSpeechServer) -> None:
    x = samples(await speak(synthesizer(fake)))
    y = samples(speech_pcm(SENTENCE))  # the same buzz at 16 kHz, before the server made it 24 kHz
    n = min(len(x), len(y))
    assert np.corrcoef(x[:n], y[:n])[0, 1] > 0.99


async def test_samples_split_across_chunks_leave_no_mark() -> None:
    async with FakeSpeechServer(api_key=KEY, chunk_bytes=4801) as odd:
        split = await speak(synthesizer(odd))
    async with FakeSpeechServer(api_key=KEY, chunk_bytes=4800) as even:
        whole = await speak(synthesizer(even))
    assert split == whole


async def test_the_request_asks_for_pcm_with_a_bearer_key(fake: FakeSpeechServer) -> None:
    await speak(synthesizer(fake, model="gpt-4o-mini-tts", voice="nova"))
    request = fake.requests[0]
    assert request.path == "/v1/audio/speech"
    assert request.headers["authorization"] == f"Bearer {KEY}"
    assert request.body == {"model": "gpt-4o-mini-tts", "input": SENTENCE, "voice": "nova", "response_format": "pcm"}


async def test_speed_is_sent_when_it_is_not_the_default(fake: FakeSpeechServer) -> None:
    await speak(synthesizer(fake, speed=1.5))
    assert fake.requests[0].body["speed"] == 1.5


async def test_an_empty_sentence_makes_no_request(fake: FakeSpeechServer) -> None:
    assert await speak(synthesizer(fake), " ") == b""
    assert fake.requests == []


async def test_a_wrong_key_raises_a_final_error(fake: FakeSpeechServer) -> None:
    synth = OpenAISpeechSynthesizer("sk-wrong", base_url=fake.base_url, timeout_s=TIMEOUT_S)
    error, _ = await failure(synth)
    assert "401" in str(error)
    assert not error.retryable


async def test_a_server_error_is_retryable(fake: FakeSpeechServer) -> None:
    fake.script(SpeechReply.error(500))
    error, _ = await failure(synthesizer(fake))
    assert "500" in str(error)
    assert error.retryable


async def test_a_rate_limit_is_retryable(fake: FakeSpeechServer) -> None:
    fake.script(SpeechReply.error(429))
    error, _ = await failure(synthesizer(fake))
    assert error.retryable


async def test_a_refused_connection_raises_a_retryable_error_at_once() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    synth = OpenAISpeechSynthesizer(KEY, base_url=f"http://127.0.0.1:{port}/v1", timeout_s=TIMEOUT_S)
    error, took = await failure(synth)
    assert error.retryable
    assert took < PROMPT_S


async def test_no_answer_within_the_timeout_raises(fake: FakeSpeechServer) -> None:
    fake.script(SpeechReply.hang())
    error, took = await failure(synthesizer(fake))
    assert "first audio" in str(error)
    assert error.retryable
    assert TIMEOUT_S <= took < PROMPT_S


async def test_a_stall_between_chunks_raises(fake: FakeSpeechServer) -> None:
    fake.script(SpeechReply.hang_after(2))
    got: list[bytes] = []
    t0 = time.monotonic()
    with pytest.raises(SynthesisError, match="more audio"):
        async for chunk in synthesizer(fake).synthesize(SENTENCE):
            got.append(chunk)
    assert got
    assert time.monotonic() - t0 < PROMPT_S


async def test_a_connection_dropped_mid_body_raises(fake: FakeSpeechServer) -> None:
    fake.script(SpeechReply.drop_after(2))
    error, took = await failure(synthesizer(fake))
    assert "mid-sentence" in str(error)
    assert error.retryable
    assert took < PROMPT_S  # the message shows it was not the timeout


async def test_a_json_answer_is_not_taken_for_audio(fake: FakeSpeechServer) -> None:
    fake.script(SpeechReply.json({"object": "error"}))
    error, _ = await failure(synthesizer(fake))
    assert "not audio" in str(error)
    assert not error.retryable


def test_the_key_is_not_in_the_repr() -> None:
    assert KEY not in repr(OpenAISpeechSynthesizer(KEY))
