"""A remote recogniser that fails hands the utterance, and the rest of the call, to the embedded one."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from tests.fakes.deepgram_server import Behaviour, FakeDeepgramServer

from callwright.domain.expectation import Expectation
from callwright.voice.stt.base import Transcriber, TranscriberError, Transcript
from callwright.voice.stt.deepgram import DeepgramTranscriber
from callwright.voice.stt.fallback import FallbackTranscriber
from callwright.voice.stt.scripted import ScriptedTranscriber, ScriptedUtterance

KEY = "dg-test-key"
FRAME = bytes(range(256)) * 2 + bytes(128)  # 640 bytes: 20 ms at 16 kHz


class Recorded(ScriptedUtterance):
    """A scripted utterance that keeps the audio it is fed."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.audio = bytearray()

    def push(self, pcm: bytes) -> None:
        super().push(pcm)
        self.audio += pcm


class Recording:
    """A transcriber at ``rate`` whose utterances keep their audio and answer ``text``."""

    def __init__(self, text: str = "from the fallback", rate: int = 16000) -> None:
        self.text = text
        self.sample_rate = rate
        self.made: list[Recorded] = []

    def utterance(self, expect: Expectation | None) -> Recorded:
        self.made.append(Recorded(self.text))
        return self.made[-1]


class Broken:
    """A primary that fails where it is told to: ``utterance``, ``push`` or ``finish``."""

    def __init__(self, where: str, rate: int = 16000) -> None:
        self.where = where
        self.sample_rate = rate
        self.utterances = 0

    def utterance(self, expect: Expectation | None) -> Broken:
        self.utterances += 1
        if self.where == "utterance":
            raise TranscriberError("no model", retryable=False)
        return self

    def push(self, pcm: bytes) -> None:
        if self.where == "push":
            raise TranscriberError("refused audio")

    def partial(self) -> str | None:
        return None

    def request_partial(self) -> bool:
        return False

    def pause(self) -> None:
        pass

    def resume(self) -> None:
        pass

    async def finish(self) -> Transcript:
        if self.where == "finish":
            raise TranscriberError("service unavailable", retryable=True)
        if self.where == "hang":
            await asyncio.sleep(3600)
        return Transcript("from the primary")

    def close(self) -> None:
        pass


@pytest.fixture
async def fake() -> AsyncIterator[FakeDeepgramServer]:
    async with FakeDeepgramServer(api_key=KEY) as server:
        yield server


def deepgram(fake: FakeDeepgramServer) -> DeepgramTranscriber:
    return DeepgramTranscriber(KEY, base_url=fake.base_url, timeout_s=0.3)


async def recognise(stt: Transcriber, frames: int = 25) -> Transcript:
    utterance = stt.utterance(None)
    for _ in range(frames):
        utterance.push(FRAME)
    return await utterance.finish()


def test_it_is_a_transcriber_at_the_primarys_rate() -> None:
    stt: Transcriber = FallbackTranscriber(Broken("finish", rate=8000), ScriptedTranscriber([]))
    assert stt.sample_rate == 8000


async def test_a_well_primary_answers_and_the_fallback_does_no_work(fake: FakeDeepgramServer) -> None:
    fake.script(Behaviour.transcribe("yes please"))
    fallback = ScriptedTranscriber(["never"])
    stt = FallbackTranscriber(deepgram(fake), fallback)
    assert (await recognise(stt)).text == "yes please"
    assert fallback.utterances == 0 and not stt.switched


async def test_a_failing_primarys_utterance_is_recognised_by_the_fallback(fake: FakeDeepgramServer) -> None:
    fake.script(Behaviour.close_after(1))  # the first audio frame, then close 1011
    stt = FallbackTranscriber(deepgram(fake), ScriptedTranscriber(["i want to pay my bill"]))
    assert await recognise(stt) == Transcript("i want to pay my bill", 1.0)


async def test_the_fallback_hears_the_whole_utterance(fake: FakeDeepgramServer) -> None:
    fake.script(Behaviour.reject(401))
    fallback = Recording()
    await recognise(FallbackTranscriber(deepgram(fake), fallback), frames=40)
    assert bytes(fallback.made[0].audio) == FRAME * 40


async def test_on_fallback_is_called_once_with_the_reason(fake: FakeDeepgramServer) -> None:
    fake.script(Behaviour.reject(401), Behaviour.reject(401))
    reasons: list[str] = []
    stt = FallbackTranscriber(deepgram(fake), ScriptedTranscriber(["a", "b", "c"]), on_fallback=reasons.append)
    for _ in range(3):
        await recognise(stt)
    assert len(reasons) == 1 and "401" in reasons[0]
    assert stt.reason == reasons[0]


async def test_later_utterances_skip_the_primary(fake: FakeDeepgramServer) -> None:
    fake.script(Behaviour.close_after(1))
    stt = FallbackTranscriber(deepgram(fake), ScriptedTranscriber(["one", "two", "three"]))
    texts = [(await recognise(stt)).text for _ in range(3)]
    assert texts == ["one", "two", "three"]
    assert len(fake.connections) == 1


async def test_a_hung_primary_hands_over_after_its_timeout(fake: FakeDeepgramServer) -> None:
    fake.script(Behaviour.hang())
    stt = FallbackTranscriber(deepgram(fake), ScriptedTranscriber(["still heard"]))
    assert (await asyncio.wait_for(recognise(stt), 2.0)).text == "still heard"
    assert stt.reason is not None and "within" in stt.reason


async def test_a_primary_that_refuses_audio_hands_over() -> None:
    fallback = Recording()
    stt = FallbackTranscriber(Broken("push"), fallback)
    assert (await recognise(stt, frames=5)).text == "from the fallback"
    assert bytes(fallback.made[0].audio) == FRAME * 5


async def test_a_primary_that_cannot_start_an_utterance_hands_over() -> None:
    primary = Broken("utterance")
    stt = FallbackTranscriber(primary, ScriptedTranscriber(["ok"]))
    assert (await recognise(stt)).text == "ok"
    await recognise(stt)
    assert primary.utterances == 1


async def test_a_fallback_at_another_rate_gets_resampled_audio() -> None:
    fallback = Recording(rate=16000)
    stt = FallbackTranscriber(Broken("finish", rate=8000), fallback)
    await recognise(stt, frames=50)  # 50 x 40 ms at 8 kHz: 2 s
    await recognise(stt, frames=50)  # after the switch, straight to the fallback
    for made in fallback.made:
        assert len(made.audio) / 2 / 16000 == pytest.approx(2.0, abs=0.01)


async def test_a_cancelled_finish_is_not_a_failure() -> None:
    reasons: list[str] = []
    stt = FallbackTranscriber(Broken("hang"), ScriptedTranscriber(["x"]), on_fallback=reasons.append)
    task = asyncio.ensure_future(recognise(stt))
    await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert reasons == [] and not stt.switched


async def test_a_failing_fallback_fails_the_utterance() -> None:
    stt = FallbackTranscriber(Broken("finish"), Broken("finish"))
    with pytest.raises(TranscriberError):
        await recognise(stt)
