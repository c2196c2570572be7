"""ElevenLabs over its stream-input WebSocket, against a local server speaking the protocol."""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator, AsyncIterator
from typing import cast

import numpy as np
import pytest
from tests.fakes.elevenlabs_server import Behaviour, FakeElevenLabsServer, refused_url, speech_pcm

from callwright.voice.audio import SAMPLE_RATE
from callwright.voice.tts.base import SynthesisError, Synthesizer
from callwright.voice.tts.elevenlabs import ElevenLabsSynthesizer

KEY = "xi-test-key"
SENTENCE = "Hello there, how are you today?"
TIMEOUT_S = 0.3
PROMPT_S = 2.0  # a failure is reported well within this


@pytest.fixture
async def fake() -> AsyncIterator[FakeElevenLabsServer]:
    async with FakeElevenLabsServer(api_key=KEY) as server:
        yield server


def synthesizer(fake: FakeElevenLabsServer, **options: object) -> ElevenLabsSynthesizer:
    settings: dict[str, object] = {"base_url": fake.base_url, "timeout_s": TIMEOUT_S}
    settings.update(options)
    return ElevenLabsSynthesizer(KEY, "voice-123", **settings)  # type: ignore[arg-type]


async def speak(synth: ElevenLabsSynthesizer, text: str = SENTENCE) -> list[bytes]:
    return [chunk async for chunk in synth.synthesize(text)]


async def failure(synth: ElevenLabsSynthesizer) -> tuple[SynthesisError, float]:
    t0 = time.monotonic()
    with pytest.raises(SynthesisError) as caught:
        await speak(synth)
    return caught.value, time.monotonic() - t0


def test_it_is_a_synthesizer() -> None:
    synth: Synthesizer = ElevenLabsSynthesizer(KEY, "voice-123")
    assert synth.synthesize is not None


async def test_a_sentence_comes_back_as_the_servers_16k_pcm(fake: FakeElevenLabsServer) -> None:
    audio = b"".join(await speak(synthesizer(fake)))
    assert audio == speech_pcm(SENTENCE)
    assert len(audio) / 2 / SAMPLE_RATE == pytest.approx(len(SENTENCE) * 0.060, abs=0.02)


async def test_audio_is_yielded_chunk_by_chunk_as_it_arrives(fake: FakeElevenLabsServer) -> None:
    chunks = await speak(synthesizer(fake))
    assert len(chunks) == -(-len(speech_pcm(SENTENCE)) // 3200)  # one per 100 ms message


async def test_pcm_24000_is_resampled_to_16k_of_the_same_duration(fake: FakeElevenLabsServer) -> None:
    audio = b"".join(await speak(synthesizer(fake, output_format="pcm_24000")))
    expected = speech_pcm(SENTENCE)
    assert fake.connections[0].query["output_format"] == "pcm_24000"
    assert abs(len(audio) - len(expected)) <= 4
    x = np.frombuffer(audio, dtype="<i2").astype(float)
    y = np.frombuffer(expected, dtype="<i2").astype(float)[: len(x)]
    assert np.corrcoef(x[: len(y)], y)[0, 1] > 0.99


async def test_the_key_goes_in_the_xi_api_key_header_only(fake: FakeElevenLabsServer) -> None:
    await speak(synthesizer(fake))
    connection = fake.connections[0]
    assert connection.headers["xi-api-key"] == KEY
    assert KEY not in str(connection.messages)
    assert KEY not in connection.path + str(connection.query)


async def test_the_messages_follow_the_stream_input_protocol(fake: FakeElevenLabsServer) -> None:
    await speak(synthesizer(fake, model_id="eleven_turbo_v2_5"))
    connection = fake.connections[0]
    assert connection.path == "/v1/text-to-speech/voice-123/stream-input"
    assert connection.query == {"model_id": "eleven_turbo_v2_5", "output_format": "pcm_16000"}
    assert connection.messages == [
        {"text": " "},
        {"text": SENTENCE + " ", "try_trigger_generation": True},
        {"text": ""},
    ]


async def test_numbers_are_sent_as_words(fake: FakeElevenLabsServer) -> None:
    await speak(synthesizer(fake), "It costs $5.")
    assert fake.connections[0].messages[1]["text"] == "It costs five dollars. "


async def test_speed_is_sent_as_voice_settings_within_elevenlabs_range(fake: FakeElevenLabsServer) -> None:
    await speak(synthesizer(fake, speed=1.1))
    await speak(synthesizer(fake, speed=2.0))
    assert fake.connections[0].messages[0] == {"text": " ", "voice_settings": {"speed": 1.1}}
    assert fake.connections[1].messages[0]["voice_settings"] == {"speed": 1.2}


async def test_an_empty_sentence_opens_no_connection(fake: FakeElevenLabsServer) -> None:
    assert await speak(synthesizer(fake), "   ") == []
    assert fake.connections == []


async def test_a_wrong_key_raises_a_final_error(fake: FakeElevenLabsServer) -> None:
    synth = ElevenLabsSynthesizer("xi-wrong", "voice-123", base_url=fake.base_url, timeout_s=TIMEOUT_S)
    error, _ = await failure(synth)
    assert "401" in str(error)
    assert not error.retryable


async def test_a_refused_connection_raises_a_retryable_error_at_once() -> None:
    synth = ElevenLabsSynthesizer(KEY, "voice-123", base_url=refused_url(), timeout_s=TIMEOUT_S)
    error, took = await failure(synth)
    assert error.retryable
    assert took < PROMPT_S


async def test_a_server_error_on_the_handshake_is_retryable(fake: FakeElevenLabsServer) -> None:
    fake.script(Behaviour.reject(503))
    error, _ = await failure(synthesizer(fake))
    assert "503" in str(error)
    assert error.retryable


async def test_no_first_audio_within_the_timeout_raises(fake: FakeElevenLabsServer) -> None:
    fake.script(Behaviour.hang())
    error, took = await failure(synthesizer(fake))
    assert "first audio" in str(error)
    assert error.retryable
    assert TIMEOUT_S <= took < PROMPT_S


async def test_a_stall_between_chunks_raises(fake: FakeElevenLabsServer) -> None:
    fake.script(Behaviour.hang_after(2))
    got: list[bytes] = []
    t0 = time.monotonic()
    with pytest.raises(SynthesisError, match="more audio"):
        async for chunk in synthesizer(fake).synthesize(SENTENCE):
            got.append(chunk)
    assert len(got) == 2
    assert time.monotonic() - t0 < PROMPT_S


async def test_a_frame_that_is_not_json_raises(fake: FakeElevenLabsServer) -> None:
    fake.script(Behaviour.malformed())
    error, took = await failure(synthesizer(fake))
    assert "not JSON" in str(error)
    assert took < PROMPT_S  # the message shows it was not the timeout


async def test_a_connection_dropped_mid_sentence_raises(fake: FakeElevenLabsServer) -> None:
    fake.script(Behaviour.drop_after(3))
    error, took = await failure(synthesizer(fake))
    assert "mid-sentence" in str(error)
    assert error.retryable
    assert took < PROMPT_S  # the message shows it was not the timeout


async def test_an_error_message_from_the_server_raises_a_final_error(fake: FakeElevenLabsServer) -> None:
    fake.script(Behaviour.error("Quota exceeded"))
    error, _ = await failure(synthesizer(fake))
    assert "Quota exceeded" in str(error)
    assert not error.retryable


async def test_a_listener_that_stops_early_closes_the_connection(fake: FakeElevenLabsServer) -> None:
    fake.script(Behaviour.hang_after(1))
    stream = cast(AsyncGenerator[bytes, None], synthesizer(fake, timeout_s=30).synthesize(SENTENCE))
    await anext(stream)
    t0 = time.monotonic()
    await stream.aclose()  # barge-in: the playout stops reading
    assert time.monotonic() - t0 < PROMPT_S


def test_only_pcm_output_formats_are_accepted() -> None:
    with pytest.raises(ValueError, match="pcm_16000"):
        ElevenLabsSynthesizer(KEY, "voice-123", output_format="mp3_44100_128")


def test_the_key_is_not_in_the_repr() -> None:
    assert KEY not in repr(ElevenLabsSynthesizer(KEY, "voice-123"))
