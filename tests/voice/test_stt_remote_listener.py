"""The remote transcribers as the engine drives them: the listener pushes each 20 ms frame of the
line's 8 kHz audio, tells them of the pause, and finishes at the end of the turn."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from tests.fakes.deepgram_server import Behaviour, FakeDeepgramServer
from tests.fakes.openai_transcribe_server import FakeTranscribeServer
from tests.voice.session_harness import gap, to_ulaw_frames, vowel

from callwright.voice.listener import Listener, SpeechEnded
from callwright.voice.stt.base import Transcriber, Transcript
from callwright.voice.stt.deepgram import DeepgramTranscriber
from callwright.voice.stt.fallback import FallbackTranscriber
from callwright.voice.stt.openai_transcribe import OpenAITranscriber
from callwright.voice.stt.scripted import ScriptedTranscriber

KEY = "test-key"


@pytest.fixture
async def deepgram() -> AsyncIterator[FakeDeepgramServer]:
    async with FakeDeepgramServer(api_key=KEY) as server:
        yield server


@pytest.fixture
async def openai() -> AsyncIterator[FakeTranscribeServer]:
    async with FakeTranscribeServer(api_key=KEY) as server:
        yield server


async def a_turn(transcriber: Transcriber, speech_s: float = 1.0) -> Transcript:
    """Speak for ``speech_s`` then fall silent, 20 ms a frame at (fast) pace; the turn's text."""
    listener = Listener(transcriber, endpointing_ms=400)
    ended: list[SpeechEnded] = []
    for frame in to_ulaw_frames(gap(0.3) + vowel(speech_s) + gap(1.0)):
        ended += [s for s in listener.audio(frame) if isinstance(s, SpeechEnded)]
        await asyncio.sleep(0.001)  # the loop runs between frames, as on a call
        if ended:
            break
    assert ended and ended[0].recognition is not None, "the turn did not end"
    return await ended[0].recognition.finish()


async def test_deepgram_transcribes_the_lines_8k_audio(deepgram: FakeDeepgramServer) -> None:
    deepgram.script(Behaviour.transcribe("i would like to pay my bill"))
    stt = DeepgramTranscriber(KEY, base_url=deepgram.base_url, sample_rate=8000, timeout_s=1.0)
    assert (await a_turn(stt, speech_s=1.0)).text == "i would like to pay my bill"
    connection = deepgram.connections[0]
    assert connection.param("sample_rate") == "8000"
    assert 1.0 <= len(connection.audio) / 2 / 8000 <= 2.0  # the speech, its pre-roll and the silence


async def test_openai_has_the_text_started_at_the_pause(openai: FakeTranscribeServer) -> None:
    openai.transcript = "yes"
    stt = OpenAITranscriber(KEY, base_url=openai.base_url, sample_rate=8000, timeout_s=1.0)
    assert (await a_turn(stt)).text == "yes"
    await stt.aclose()
    assert len(openai.uploads) == 1
    upload = openai.uploads[0]
    assert upload.rate == 8000
    assert 1.0 <= upload.duration_s < 1.5  # sent at the pause: not the endpointing silence


async def test_a_rejected_deepgram_falls_back_with_the_turns_audio(deepgram: FakeDeepgramServer) -> None:
    deepgram.script(Behaviour.reject(401))
    reasons: list[str] = []
    fallback = ScriptedTranscriber(["heard locally"])  # 16 kHz: the 8 kHz turn is resampled for it
    primary = DeepgramTranscriber(KEY, base_url=deepgram.base_url, sample_rate=8000, timeout_s=1.0)
    stt = FallbackTranscriber(primary, fallback, on_fallback=reasons.append)
    assert (await a_turn(stt)).text == "heard locally"
    assert len(reasons) == 1 and "401" in reasons[0]
