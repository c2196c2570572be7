"""Deepgram live streaming, against a local server speaking the protocol."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable

import pytest
from tests.fakes.deepgram_server import Behaviour, FakeDeepgramServer
from tests.fakes.elevenlabs_server import refused_url

from callwright.domain.expectation import Expectation
from callwright.voice.stt.base import Transcriber, TranscriberError, Transcript
from callwright.voice.stt.deepgram import DeepgramTranscriber, DeepgramUtterance

KEY = "dg-test-key"
TIMEOUT_S = 0.3
PROMPT_S = 2.0  # a failure is reported well within this
FRAME = bytes(range(256)) * 2 + bytes(128)  # 640 bytes: 20 ms of PCM16 at 16 kHz


@pytest.fixture
async def fake() -> AsyncIterator[FakeDeepgramServer]:
    async with FakeDeepgramServer(api_key=KEY, ms_per_word=100) as server:
        yield server


def transcriber(fake: FakeDeepgramServer, **options: object) -> DeepgramTranscriber:
    settings: dict[str, object] = {"base_url": fake.base_url, "timeout_s": TIMEOUT_S}
    settings.update(options)
    return DeepgramTranscriber(KEY, **settings)  # type: ignore[arg-type]


async def speak(utterance: DeepgramUtterance, frames: int, pace_s: float = 0.0) -> None:
    for _ in range(frames):
        utterance.push(FRAME)
        await asyncio.sleep(pace_s)


async def eventually(condition: Callable[[], bool], timeout_s: float = 2.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.01)


async def failure(utterance: DeepgramUtterance) -> tuple[TranscriberError, float]:
    t0 = time.monotonic()
    with pytest.raises(TranscriberError) as caught:
        await utterance.finish()
    return caught.value, time.monotonic() - t0


def test_it_is_a_transcriber() -> None:
    stt: Transcriber = DeepgramTranscriber(KEY)
    assert stt.sample_rate == 16000


def test_the_key_is_not_in_its_repr() -> None:
    assert KEY not in repr(DeepgramTranscriber(KEY))


async def test_the_final_transcript_comes_from_finish(fake: FakeDeepgramServer) -> None:
    fake.script(Behaviour.transcribe("yes please"))
    utterance = transcriber(fake).utterance(None)
    await speak(utterance, 25)
    result = await utterance.finish()
    assert result == Transcript("yes please", 0.9)


async def test_final_segments_are_joined(fake: FakeDeepgramServer) -> None:
    fake.script(Behaviour.transcribe("my number is", "five five five"))
    utterance = transcriber(fake).utterance(None)
    await speak(utterance, 50)  # 1 s: the first segment goes final while audio arrives
    assert (await utterance.finish()).text == "my number is five five five"
    assert [m["is_final"] for m in fake.connections[0].sent if m["type"] == "Results"].count(True) == 2


async def test_every_audio_frame_reaches_the_server(fake: FakeDeepgramServer) -> None:
    utterance = transcriber(fake).utterance(None)
    await speak(utterance, 30, pace_s=0.002)
    await utterance.finish()
    assert bytes(fake.connections[0].audio) == FRAME * 30


async def test_audio_pushed_before_the_connection_opens_is_sent(fake: FakeDeepgramServer) -> None:
    utterance = transcriber(fake).utterance(None)
    for _ in range(10):
        utterance.push(FRAME)  # no await: the connection cannot be open yet
    await utterance.finish()
    assert bytes(fake.connections[0].audio) == FRAME * 10


async def test_the_stream_ends_with_close_stream(fake: FakeDeepgramServer) -> None:
    utterance = transcriber(fake).utterance(None)
    await speak(utterance, 5)
    await utterance.finish()
    assert fake.connections[0].controls == [{"type": "CloseStream"}]


async def test_interim_text_is_the_partial(fake: FakeDeepgramServer) -> None:
    fake.script(Behaviour.transcribe("one two three four"))
    utterance = transcriber(fake).utterance(None)
    await speak(utterance, 10, pace_s=0.005)  # 200 ms: two words revealed
    await eventually(lambda: utterance.partial() == "one two")
    utterance.close()


async def test_partial_is_the_finals_and_the_current_interim(fake: FakeDeepgramServer) -> None:
    fake.script(Behaviour.transcribe("hello there", "how are you"))
    utterance = transcriber(fake).utterance(None)
    await speak(utterance, 20, pace_s=0.002)  # 400 ms: "hello there" final, then "how"
    await eventually(lambda: utterance.partial() == "hello there how")
    utterance.close()


async def test_the_key_is_sent_as_a_token(fake: FakeDeepgramServer) -> None:
    utterance = transcriber(fake).utterance(None)
    await utterance.finish()
    assert fake.connections[0].headers["authorization"] == f"Token {KEY}"


async def test_the_audio_format_and_options_are_in_the_query(fake: FakeDeepgramServer) -> None:
    utterance = transcriber(fake, sample_rate=8000, model="nova-2-phonecall", language="en-GB").utterance(None)
    await utterance.finish()
    connection = fake.connections[0]
    assert connection.path == "/v1/listen"
    assert {k: connection.param(k) for k in ("encoding", "sample_rate", "channels", "model", "language")} == {
        "encoding": "linear16",
        "sample_rate": "8000",
        "channels": "1",
        "model": "nova-2-phonecall",
        "language": "en-GB",
    }
    assert connection.param("interim_results") == "true"


async def test_expected_choices_are_sent_as_keywords(fake: FakeDeepgramServer) -> None:
    utterance = transcriber(fake).utterance(Expectation("choice", choices=("billing", "tech support")))
    await utterance.finish()
    assert fake.connections[0].query["keywords"] == ["billing", "tech support"]


async def test_nova_3_takes_choices_as_keyterms(fake: FakeDeepgramServer) -> None:
    utterance = transcriber(fake, model="nova-3").utterance(Expectation("choice", choices=("billing",)))
    await utterance.finish()
    assert fake.connections[0].query["keyterm"] == ["billing"]
    assert "keywords" not in fake.connections[0].query


async def test_silence_is_an_empty_transcript(fake: FakeDeepgramServer) -> None:
    fake.script(Behaviour.transcribe())
    fake.transcript = ()
    utterance = transcriber(fake).utterance(None)
    await speak(utterance, 10)
    assert await utterance.finish() == Transcript("")


async def test_a_wrong_key_is_a_prompt_error_that_is_not_retryable(fake: FakeDeepgramServer) -> None:
    utterance = DeepgramTranscriber("wrong", base_url=fake.base_url, timeout_s=TIMEOUT_S).utterance(None)
    await speak(utterance, 5)
    error, took = await failure(utterance)
    assert "401" in str(error) and not error.retryable
    assert took < PROMPT_S


async def test_a_server_error_at_the_handshake_is_retryable(fake: FakeDeepgramServer) -> None:
    fake.script(Behaviour.reject(503))
    utterance = transcriber(fake).utterance(None)
    error, _ = await failure(utterance)
    assert "503" in str(error) and error.retryable


async def test_a_refused_connection_is_a_retryable_error() -> None:
    utterance = DeepgramTranscriber(KEY, base_url=refused_url(), timeout_s=TIMEOUT_S).utterance(None)
    await speak(utterance, 5)
    error, took = await failure(utterance)
    assert error.retryable and took < PROMPT_S


async def test_a_server_that_never_answers_times_out(fake: FakeDeepgramServer) -> None:
    fake.script(Behaviour.hang())
    utterance = transcriber(fake).utterance(None)
    await speak(utterance, 5)
    error, took = await failure(utterance)
    assert "within" in str(error) and error.retryable
    assert TIMEOUT_S * 0.9 <= took < PROMPT_S


async def test_a_malformed_frame_is_an_error(fake: FakeDeepgramServer) -> None:
    fake.script(Behaviour.malformed())
    utterance = transcriber(fake).utterance(None)
    await speak(utterance, 5)
    await eventually(lambda: bool(fake.connections) and fake.connections[0].frames > 0)
    error, took = await failure(utterance)
    assert "not JSON" in str(error) and took < PROMPT_S


async def test_a_close_mid_utterance_is_a_retryable_error(fake: FakeDeepgramServer) -> None:
    fake.script(Behaviour.close_after(3))
    utterance = transcriber(fake).utterance(None)
    await speak(utterance, 10, pace_s=0.005)
    error, took = await failure(utterance)
    assert "1011" in str(error) and error.retryable
    assert took < PROMPT_S


async def test_a_dropped_connection_is_a_retryable_error(fake: FakeDeepgramServer) -> None:
    fake.script(Behaviour.drop_after(2))
    utterance = transcriber(fake).utterance(None)
    await speak(utterance, 10, pace_s=0.005)
    error, _ = await failure(utterance)
    assert "1006" in str(error) and error.retryable


async def test_push_never_raises_on_a_failed_stream(fake: FakeDeepgramServer) -> None:
    fake.script(Behaviour.reject(401))
    utterance = transcriber(fake).utterance(None)
    await asyncio.sleep(0.1)
    await speak(utterance, 5)
    with pytest.raises(TranscriberError):
        await utterance.finish()
    utterance.push(FRAME)  # after the end, too


async def test_close_abandons_the_connection(fake: FakeDeepgramServer) -> None:
    utterance = transcriber(fake).utterance(None)
    await speak(utterance, 5, pace_s=0.002)
    await eventually(lambda: bool(fake.connections) and fake.connections[0].frames > 0)
    utterance.close()
    utterance.close()  # idempotent
    await asyncio.sleep(0.05)
    assert fake.connections[0].controls == []
    with pytest.raises(TranscriberError):
        await utterance.finish()


def test_rates_other_than_8_or_16_khz_are_refused() -> None:
    with pytest.raises(ValueError):
        DeepgramTranscriber(KEY, sample_rate=44100)


def test_an_utterance_off_the_event_loop_is_a_transcriber_error() -> None:
    with pytest.raises(TranscriberError):
        DeepgramTranscriber(KEY).utterance(None)


async def test_the_agents_hints_are_keywords_after_the_choices(fake: FakeDeepgramServer) -> None:
    stt = transcriber(fake, hints=["Callwright", "billing"])
    await stt.utterance(Expectation("choice", choices=("billing", "sales"))).finish()
    assert fake.connections[0].query["keywords"] == ["billing", "sales", "Callwright"]


async def test_there_is_no_partial_before_the_first_result(fake: FakeDeepgramServer) -> None:
    utterance = transcriber(fake).utterance(None)
    assert utterance.partial() is None
    utterance.close()


async def test_there_is_no_partial_after_a_failure(fake: FakeDeepgramServer) -> None:
    fake.script(Behaviour.close_after(6))
    utterance = transcriber(fake).utterance(None)
    await speak(utterance, 5, pace_s=0.005)
    await eventually(lambda: utterance.partial() == "hello")
    await speak(utterance, 5, pace_s=0.005)
    await eventually(lambda: utterance.partial() is None)
    utterance.close()
