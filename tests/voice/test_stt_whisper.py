"""Whisper tiny.en through faster-whisper, on espeak-ng speech that went over a μ-law phone line;
the routing transcriber that is the embedded default."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import pytest
from tests.voice.conftest import PhoneSpeech, frames_of

from callwright.domain.agent import TranscriberConfig
from callwright.domain.expectation import Expectation
from callwright.voice.engines import build_transcriber
from callwright.voice.stt.base import TranscriberError, Transcript
from callwright.voice.stt.pocketsphinx import DecoderPool, PocketsphinxTranscriber
from callwright.voice.stt.routing import GrammarWithWords, RoutingTranscriber
from callwright.voice.stt.whisper import (
    PACKAGED_MODEL_SHA256,
    WhisperEngine,
    WhisperTranscriber,
    WhisperUtterance,
    default_engine,
    file_sha256,
    packaged_model_dir,
)

NAME_AND_NUMBER = "My name is John Smith and I am forty two years old."


@pytest.fixture(scope="module")
def whisper() -> WhisperTranscriber:
    engine = default_engine()
    engine.load()
    return WhisperTranscriber(engine)


async def recognise(t: WhisperTranscriber, pcm: bytes, pause: bool = True) -> tuple[Transcript, WhisperUtterance]:
    utterance = t.utterance(Expectation("text"))
    for frame in frames_of(pcm):
        utterance.push(frame)
    if pause:
        utterance.pause()
    return await utterance.finish(), utterance


async def test_a_sentence_with_a_name_and_a_number(whisper: WhisperTranscriber, phone_speech: PhoneSpeech) -> None:
    transcript, _ = await recognise(whisper, phone_speech(NAME_AND_NUMBER))
    text = transcript.text.lower()
    assert "smith" in text and "42" in text  # the first name comes out "John" or "Don" on this voice
    assert transcript.confidence is not None and 0 < transcript.confidence <= 1


async def test_the_decode_started_at_the_pause_is_the_one_finish_returns(
    whisper: WhisperTranscriber, phone_speech: PhoneSpeech
) -> None:
    _, utterance = await recognise(whisper, phone_speech("Please call me back tomorrow."))
    assert utterance.decodes == 1


async def test_speech_after_a_pause_discards_that_decode(
    whisper: WhisperTranscriber, phone_speech: PhoneSpeech
) -> None:
    utterance = whisper.utterance(None)
    first, second = phone_speech("Please call me"), phone_speech("back tomorrow.")
    for frame in frames_of(first):
        utterance.push(frame)
    utterance.pause()
    utterance.resume()  # the caller went on
    for frame in frames_of(second):
        utterance.push(frame)
    text = (await utterance.finish()).text.lower()
    assert "call me" in text and "tomorrow" in text  # the whole utterance, not its first half
    assert utterance.decodes == 2


async def test_silence_gives_no_text(whisper: WhisperTranscriber) -> None:
    utterance = whisper.utterance(None)
    assert (await utterance.finish()).text == ""


async def test_a_decode_does_not_block_the_event_loop(whisper: WhisperTranscriber, phone_speech: PhoneSpeech) -> None:
    """A ticker that wants to run every 20 ms (the carrier's frame pace) keeps its pace while
    Whisper decodes an utterance (a long one: a short decode is over in ~70 ms, too quick to
    tell a blocked loop from a free one)."""
    pcm = phone_speech(" ".join([NAME_AND_NUMBER] * 3))
    gaps: list[float] = []
    done = asyncio.Event()

    async def ticker() -> None:
        last = time.perf_counter()
        while not done.is_set():
            await asyncio.sleep(0.02)
            now = time.perf_counter()
            gaps.append(now - last)
            last = now

    task = asyncio.create_task(ticker())
    await asyncio.sleep(0.05)
    started = time.perf_counter()
    transcript, _ = await recognise(whisper, pcm, pause=False)
    decode_s = time.perf_counter() - started
    done.set()
    await task
    assert "smith" in transcript.text.lower()
    assert decode_s > 0.1  # the decode took real time...
    assert len(gaps) >= decode_s / 0.02 * 0.7  # ...and the loop kept ticking through it
    assert max(gaps) < 0.1


def test_a_missing_model_directory_is_a_clear_error_at_load(tmp_path: Path) -> None:
    engine = WhisperEngine(tmp_path / "nowhere")
    with pytest.raises(TranscriberError, match="does not exist") as raised:
        engine.load()
    assert raised.value.retryable is False


def test_an_incomplete_model_directory_is_a_clear_error_at_load(tmp_path: Path) -> None:
    (tmp_path / "model.bin").write_bytes(b"junk")
    with pytest.raises(TranscriberError, match=r"incomplete: missing config\.json, tokenizer\.json, vocabulary\.txt"):
        WhisperEngine(tmp_path).load()


def _copy_of_packaged_model(into: Path) -> Path:
    source = packaged_model_dir()
    for name in os.listdir(source):
        (into / name).symlink_to(source / name)
    return into


def test_a_corrupt_model_file_is_a_clear_error_at_load(tmp_path: Path) -> None:
    model_dir = _copy_of_packaged_model(tmp_path)
    (model_dir / "model.bin").unlink()
    (model_dir / "model.bin").write_bytes(b"\0" * 1000)
    with pytest.raises(TranscriberError, match="failed to load"):
        WhisperEngine(model_dir).load()


def test_a_model_with_another_hash_is_refused(tmp_path: Path) -> None:
    model_dir = _copy_of_packaged_model(tmp_path)
    with pytest.raises(TranscriberError, match="sha256"):
        WhisperEngine(model_dir, sha256="0" * 64).load()
    (model_dir / "model.bin").unlink()
    (model_dir / "model.bin").write_bytes(b"\0" * 1000)
    with pytest.raises(TranscriberError, match=f"expected {PACKAGED_MODEL_SHA256}"):
        WhisperEngine(model_dir, sha256=PACKAGED_MODEL_SHA256).verify()


def test_the_packaged_model_is_the_pinned_one() -> None:
    assert file_sha256(packaged_model_dir() / "model.bin") == PACKAGED_MODEL_SHA256
    WhisperEngine().verify()


def test_an_operators_model_directory_loads_with_its_hash(tmp_path: Path) -> None:
    model_dir = _copy_of_packaged_model(tmp_path)
    engine = WhisperEngine(model_dir, sha256=PACKAGED_MODEL_SHA256.upper())
    engine.verify()
    assert engine.model_dir == model_dir


async def test_the_router_uses_pocketsphinx_under_a_grammar_and_whisper_for_open_speech(
    whisper: WhisperTranscriber, phone_speech: PhoneSpeech
) -> None:
    router = RoutingTranscriber(PocketsphinxTranscriber(DecoderPool()), whisper)
    assert router.sample_rate == 16000
    yes_no = router.utterance(Expectation("yes_no"))
    assert isinstance(yes_no, GrammarWithWords)
    for frame in frames_of(phone_speech("yes")):
        yes_no.push(frame)
    assert (await yes_no.finish()).text == "yes"
    assert isinstance(router.utterance(Expectation("choice", ("monday", "tuesday"))), GrammarWithWords)
    for open_kind in (Expectation("text"), Expectation("number"), Expectation("date"), Expectation("digits"), None):
        assert isinstance(router.utterance(open_kind), WhisperUtterance)
    # A choice the grammar recogniser has no words for goes to Whisper, not to its weak LM.
    assert isinstance(router.utterance(Expectation("choice", ("xqzzy", "zzyqx"))), WhisperUtterance)


async def test_a_grammar_utterance_asked_for_words_gives_whisper_s_not_the_grammar_s(
    whisper: WhisperTranscriber, phone_speech: PhoneSpeech
) -> None:
    router = RoutingTranscriber(PocketsphinxTranscriber(DecoderPool()), whisper)
    utterance = router.utterance(Expectation("yes_no"))
    for frame in frames_of(phone_speech("I would like to cancel my appointment")):
        utterance.push(frame)
    assert utterance.request_partial()
    for _ in range(200):
        if utterance.partial() is not None:
            break
        await asyncio.sleep(0.02)
    assert "cancel" in (utterance.partial() or "").lower()
    utterance.close()


def test_the_agent_default_is_the_router() -> None:
    assert TranscriberConfig().provider == "auto"
    assert isinstance(build_transcriber(TranscriberConfig()), RoutingTranscriber)
    assert isinstance(build_transcriber(TranscriberConfig(provider="whisper")), WhisperTranscriber)
    assert isinstance(build_transcriber(TranscriberConfig(provider="pocketsphinx")), PocketsphinxTranscriber)
