"""OpenAI's transcription endpoint, against a local server speaking it."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest
from tests.fakes.elevenlabs_server import refused_url
from tests.fakes.openai_transcribe_server import FakeTranscribeServer, TranscribeReply

from callwright.domain.expectation import Expectation
from callwright.voice.stt.base import Transcriber, TranscriberError, Transcript
from callwright.voice.stt.openai_transcribe import OpenAITranscriber

KEY = "sk-test-key"
TIMEOUT_S = 0.3
PROMPT_S = 2.0
FRAME = bytes(range(256)) * 2 + bytes(128)  # 640 bytes: 20 ms at 16 kHz


@pytest.fixture
async def fake() -> AsyncIterator[FakeTranscribeServer]:
    async with FakeTranscribeServer(api_key=KEY) as server:
        yield server


@pytest.fixture
async def stt(fake: FakeTranscribeServer) -> AsyncIterator[OpenAITranscriber]:
    transcriber = OpenAITranscriber(KEY, base_url=fake.base_url, timeout_s=TIMEOUT_S)
    yield transcriber
    await transcriber.aclose()


async def recognise(stt: OpenAITranscriber, frames: int = 50, expect: Expectation | None = None) -> Transcript:
    utterance = stt.utterance(expect)
    for _ in range(frames):
        utterance.push(FRAME)
    return await utterance.finish()


async def failure(stt: OpenAITranscriber) -> tuple[TranscriberError, float]:
    t0 = time.monotonic()
    with pytest.raises(TranscriberError) as caught:
        await recognise(stt)
    return caught.value, time.monotonic() - t0


def test_it_is_a_transcriber() -> None:
    transcriber: Transcriber = OpenAITranscriber(KEY)
    assert transcriber.sample_rate == 16000


def test_the_key_is_not_in_its_repr() -> None:
    assert KEY not in repr(OpenAITranscriber(KEY))


async def test_the_text_comes_back(fake: FakeTranscribeServer, stt: OpenAITranscriber) -> None:
    fake.script(TranscribeReply.text(" I'd like to pay my bill. "))
    assert await recognise(stt) == Transcript("I'd like to pay my bill.")


async def test_the_wav_posted_has_the_rate_and_the_audio(fake: FakeTranscribeServer, stt: OpenAITranscriber) -> None:
    await recognise(stt, frames=50)
    upload = fake.uploads[0]
    assert (upload.rate, upload.channels, upload.sample_width) == (16000, 1, 2)
    assert upload.pcm == FRAME * 50
    assert upload.duration_s == pytest.approx(1.0)
    assert upload.filename == "utterance.wav" and upload.content_type == "audio/wav"


async def test_8_khz_audio_is_posted_at_8_khz(fake: FakeTranscribeServer) -> None:
    stt = OpenAITranscriber(KEY, base_url=fake.base_url, timeout_s=TIMEOUT_S, sample_rate=8000)
    await recognise(stt, frames=25)
    await stt.aclose()
    assert fake.uploads[0].rate == 8000
    assert fake.uploads[0].duration_s == pytest.approx(1.0)  # 25 frames of 640 bytes: 40 ms each at 8 kHz


async def test_the_form_names_the_model_and_language(fake: FakeTranscribeServer) -> None:
    stt = OpenAITranscriber(KEY, base_url=fake.base_url, model="gpt-4o-mini-transcribe", language="fr")
    await recognise(stt)
    await stt.aclose()
    fields = fake.uploads[0].fields
    assert fields == {"model": "gpt-4o-mini-transcribe", "language": "fr", "response_format": "json"}


async def test_expected_choices_go_in_the_prompt(fake: FakeTranscribeServer, stt: OpenAITranscriber) -> None:
    await recognise(stt, expect=Expectation("choice", choices=("billing", "tech support")))
    assert fake.uploads[0].fields["prompt"] == "billing, tech support."


async def test_the_key_is_sent_as_a_bearer_token(fake: FakeTranscribeServer, stt: OpenAITranscriber) -> None:
    await recognise(stt)
    assert fake.uploads[0].headers["authorization"] == f"Bearer {KEY}"


async def test_too_little_audio_is_silence_without_a_request(
    fake: FakeTranscribeServer, stt: OpenAITranscriber
) -> None:
    assert await recognise(stt, frames=2) == Transcript("")
    assert fake.uploads == []


async def test_the_request_starts_when_the_caller_pauses(fake: FakeTranscribeServer, stt: OpenAITranscriber) -> None:
    utterance = stt.utterance(None)
    for _ in range(25):
        utterance.push(FRAME)
    utterance.pause()
    for _ in range(10):
        await asyncio.sleep(0.05)
        if fake.uploads:
            break
    assert fake.uploads, "no request before finish"
    utterance.push(FRAME * 5)  # the endpointing silence: not in the request already made
    assert (await utterance.finish()).text == "hello world"
    assert len(fake.uploads) == 1 and fake.uploads[0].pcm == FRAME * 25


async def test_speech_after_a_pause_sends_the_whole_utterance(
    fake: FakeTranscribeServer, stt: OpenAITranscriber
) -> None:
    utterance = stt.utterance(None)
    utterance.push(FRAME * 25)
    utterance.pause()
    utterance.resume()
    utterance.push(FRAME * 25)
    await utterance.finish()
    assert fake.uploads[-1].pcm == FRAME * 50


async def test_a_wrong_key_is_an_error_that_is_not_retryable(fake: FakeTranscribeServer) -> None:
    stt = OpenAITranscriber("wrong", base_url=fake.base_url, timeout_s=TIMEOUT_S)
    error, _ = await failure(stt)
    await stt.aclose()
    assert "401" in str(error) and not error.retryable


async def test_a_bad_request_is_not_retryable(fake: FakeTranscribeServer, stt: OpenAITranscriber) -> None:
    fake.script(TranscribeReply.error(400))
    error, _ = await failure(stt)
    assert not error.retryable


@pytest.mark.parametrize("status", [429, 500, 503])
async def test_server_errors_and_rate_limits_are_retryable(
    fake: FakeTranscribeServer, stt: OpenAITranscriber, status: int
) -> None:
    fake.script(TranscribeReply.error(status))
    error, took = await failure(stt)
    assert str(status) in str(error) and error.retryable and took < PROMPT_S


async def test_no_answer_times_out(fake: FakeTranscribeServer, stt: OpenAITranscriber) -> None:
    fake.script(TranscribeReply.hang())
    error, took = await failure(stt)
    assert "within" in str(error) and error.retryable
    assert TIMEOUT_S * 0.9 <= took < PROMPT_S


async def test_an_answer_without_text_is_an_error(fake: FakeTranscribeServer, stt: OpenAITranscriber) -> None:
    fake.script(TranscribeReply.json({"transcript": "hi"}))
    error, _ = await failure(stt)
    assert "no text" in str(error)


async def test_an_unreachable_server_is_a_retryable_error() -> None:
    stt = OpenAITranscriber(KEY, base_url=refused_url().replace("ws://", "http://"), timeout_s=TIMEOUT_S)
    error, took = await failure(stt)
    await stt.aclose()
    assert error.retryable and took < PROMPT_S


async def test_a_regional_language_tag_is_sent_as_its_language(fake: FakeTranscribeServer) -> None:
    stt = OpenAITranscriber(KEY, base_url=fake.base_url, language="en-US")
    await recognise(stt)
    await stt.aclose()
    assert fake.uploads[0].fields["language"] == "en"


async def test_the_agents_hints_are_the_prompt_for_open_speech(fake: FakeTranscribeServer) -> None:
    stt = OpenAITranscriber(KEY, base_url=fake.base_url, hints=["Callwright", "Zyrtec"])
    await recognise(stt)
    await recognise(stt, expect=Expectation("choice", choices=("yes",)))
    await stt.aclose()
    assert [u.fields["prompt"] for u in fake.uploads] == ["Callwright, Zyrtec.", "yes."]


async def test_without_start_at_pause_the_request_waits_for_finish(fake: FakeTranscribeServer) -> None:
    stt = OpenAITranscriber(KEY, base_url=fake.base_url, start_at_pause=False)
    utterance = stt.utterance(None)
    utterance.push(FRAME * 25)
    utterance.pause()
    await asyncio.sleep(0.2)
    assert fake.uploads == []
    utterance.push(FRAME * 5)
    await utterance.finish()
    await stt.aclose()
    assert fake.uploads[0].pcm == FRAME * 30
