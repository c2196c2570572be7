"""A remote voice with espeak behind it: one switch, reported once, for the rest of the call."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator, AsyncIterator
from typing import cast

import pytest
from tests.fakes.elevenlabs_server import Behaviour, FakeElevenLabsServer

from callwright.voice.tts.base import SynthesisError, Synthesizer
from callwright.voice.tts.elevenlabs import ElevenLabsSynthesizer
from callwright.voice.tts.espeak import EspeakSynthesizer
from callwright.voice.tts.fallback import FallbackSynthesizer

PRIMARY = b"\x01\x00" * 160
FALLBACK = b"\x02\x00" * 160


class Scripted:
    """A synthesizer that yields ``chunks`` of its ``audio`` per sentence, then raises ``fail``
    (if given) after ``fail_after`` chunks; counts the sentences it was asked for."""

    def __init__(self, audio: bytes, chunks: int = 3, fail: Exception | None = None, fail_after: int = 0) -> None:
        self.audio, self.chunks, self.fail, self.fail_after = audio, chunks, fail, fail_after
        self.asked: list[str] = []
        self.gate: asyncio.Event | None = None  # when set: wait for it before failing

    async def synthesize(self, text: str) -> AsyncIterator[bytes]:
        self.asked.append(text)
        for i in range(self.chunks):
            if self.fail is not None and i == self.fail_after:
                if self.gate is not None:
                    await self.gate.wait()
                raise self.fail
            yield self.audio
        await asyncio.sleep(0)


async def speak(synth: Synthesizer, text: str = "Hello.") -> list[bytes]:
    return [chunk async for chunk in synth.synthesize(text)]


def test_it_is_a_synthesizer() -> None:
    synth: Synthesizer = FallbackSynthesizer(Scripted(PRIMARY), Scripted(FALLBACK))
    assert synth.synthesize is not None


async def test_a_working_primary_speaks_and_nothing_is_reported() -> None:
    reasons: list[str] = []
    fallback = Scripted(FALLBACK)
    synth = FallbackSynthesizer(Scripted(PRIMARY), fallback, reasons.append)
    assert await speak(synth) == [PRIMARY] * 3
    assert reasons == [] and fallback.asked == [] and not synth.switched


async def test_a_failure_before_audio_speaks_the_sentence_with_the_fallback() -> None:
    synth = FallbackSynthesizer(Scripted(PRIMARY, fail=SynthesisError("down", retryable=True)), Scripted(FALLBACK))
    assert await speak(synth) == [FALLBACK] * 3


async def test_the_switch_is_reported_once_with_the_reason() -> None:
    reasons: list[str] = []
    primary = Scripted(PRIMARY, fail=SynthesisError("ElevenLabs sent no first audio within 3 s", retryable=True))
    synth = FallbackSynthesizer(primary, Scripted(FALLBACK), reasons.append)
    await speak(synth, "One.")
    await speak(synth, "Two.")
    assert reasons == ["ElevenLabs sent no first audio within 3 s"]
    assert synth.reason == reasons[0]


async def test_after_the_switch_the_primary_is_not_asked_again() -> None:
    primary = Scripted(PRIMARY, fail=SynthesisError("down", retryable=True))
    fallback = Scripted(FALLBACK)
    synth = FallbackSynthesizer(primary, fallback)
    for text in ("One.", "Two.", "Three."):
        await speak(synth, text)
    assert primary.asked == ["One."]
    assert fallback.asked == ["One.", "Two.", "Three."]


async def test_a_failure_mid_sentence_speaks_the_whole_sentence_again_with_the_fallback() -> None:
    primary = Scripted(PRIMARY, fail=SynthesisError("dropped", retryable=True), fail_after=2)
    synth = FallbackSynthesizer(primary, Scripted(FALLBACK))
    assert await speak(synth) == [PRIMARY, PRIMARY] + [FALLBACK] * 3


async def test_an_unexpected_error_of_the_primary_also_falls_back() -> None:
    reasons: list[str] = []
    synth = FallbackSynthesizer(Scripted(PRIMARY, fail=ValueError("bug")), Scripted(FALLBACK), reasons.append)
    assert await speak(synth) == [FALLBACK] * 3
    assert reasons == ["ValueError: bug"]


async def test_two_sentences_failing_together_report_once() -> None:
    reasons: list[str] = []
    primary = Scripted(PRIMARY, fail=SynthesisError("down", retryable=True))
    primary.gate = asyncio.Event()
    synth = FallbackSynthesizer(primary, Scripted(FALLBACK), reasons.append)
    both = asyncio.gather(speak(synth, "One."), speak(synth, "Two."))  # the playout synthesizes ahead
    await asyncio.sleep(0.01)
    primary.gate.set()
    assert list(await both) == [[FALLBACK] * 3, [FALLBACK] * 3]
    assert len(reasons) == 1


async def test_a_listener_that_stops_early_is_not_a_failure() -> None:
    reasons: list[str] = []
    synth = FallbackSynthesizer(Scripted(PRIMARY), Scripted(FALLBACK), reasons.append)
    stream = cast(AsyncGenerator[bytes, None], synth.synthesize("Hello."))
    await anext(stream)
    await stream.aclose()  # barge-in
    assert reasons == [] and not synth.switched


async def test_a_failing_report_does_not_cost_the_sentence() -> None:
    def broken(_: str) -> None:
        raise RuntimeError("recording failed")

    primary = Scripted(PRIMARY, fail=SynthesisError("down", retryable=True))
    synth = FallbackSynthesizer(primary, Scripted(FALLBACK), broken)
    assert await speak(synth) == [FALLBACK] * 3


async def test_a_hanging_elevenlabs_falls_back_to_espeak_within_its_timeout() -> None:
    reasons: list[str] = []
    async with FakeElevenLabsServer(api_key="xi-key") as fake:
        fake.script(Behaviour.hang())
        remote = ElevenLabsSynthesizer("xi-key", "voice-1", base_url=fake.base_url, timeout_s=0.3)
        synth = FallbackSynthesizer(remote, EspeakSynthesizer(), reasons.append)
        t0 = time.monotonic()
        first = await speak(synth, "Thank you for calling.")
        took = time.monotonic() - t0
        second = await speak(synth, "How can I help?")
    for got, text in ((first, "Thank you for calling."), (second, "How can I help?")):
        espeak = EspeakSynthesizer().synthesize_sync(text)  # the same speech (chunking aside)
        assert len(b"".join(got)) == pytest.approx(len(espeak), rel=0.02)
    assert took < 1.5
    assert len(reasons) == 1 and "first audio" in reasons[0]
    assert len(fake.connections) == 1  # the second sentence did not try ElevenLabs again


@pytest.mark.parametrize("error", [SynthesisError("final", retryable=False), SynthesisError("again", retryable=True)])
async def test_retryable_or_not_the_call_goes_on_with_the_fallback(error: SynthesisError) -> None:
    synth = FallbackSynthesizer(Scripted(PRIMARY, fail=error), Scripted(FALLBACK))
    assert await speak(synth) == [FALLBACK] * 3
