"""Pocketsphinx under per-turn grammars, on espeak-ng speech that went over a μ-law phone line."""

from __future__ import annotations

import asyncio
import threading

import pytest
from tests.voice.conftest import PhoneSpeech, frames_of

from callwright.domain.expectation import Expectation
from callwright.voice.stt.base import TranscriberError, Transcript
from callwright.voice.stt.pocketsphinx import DecoderPool, PocketsphinxTranscriber
from callwright.voice.stt.scripted import ScriptedTranscriber

DAYS = ("monday", "tuesday", "wednesday")


@pytest.fixture(scope="module")
def transcriber() -> PocketsphinxTranscriber:
    return PocketsphinxTranscriber(DecoderPool())


def recognise(t: PocketsphinxTranscriber, expect: Expectation | None, pcm: bytes) -> Transcript:
    utterance = t.utterance(expect)
    for frame in frames_of(pcm):
        utterance.push(frame)
    return utterance.finish_now()


@pytest.mark.parametrize("said", ["yes", "yeah", "sure", "of course"])
def test_yes_variants_are_heard_as_yes(
    transcriber: PocketsphinxTranscriber, phone_speech: PhoneSpeech, said: str
) -> None:
    assert recognise(transcriber, Expectation("yes_no"), phone_speech(said)).text == "yes"


@pytest.mark.parametrize("said", ["no", "not really", "no thank you"])
def test_no_variants_are_heard_as_no(
    transcriber: PocketsphinxTranscriber, phone_speech: PhoneSpeech, said: str
) -> None:
    assert recognise(transcriber, Expectation("yes_no"), phone_speech(said)).text == "no"


def test_yes_no_gives_a_confidence(transcriber: PocketsphinxTranscriber, phone_speech: PhoneSpeech) -> None:
    confidence = recognise(transcriber, Expectation("yes_no"), phone_speech("yes")).confidence
    assert confidence is not None and 0.0 < confidence < 1.0


@pytest.mark.parametrize("day", DAYS)
def test_each_choice_is_recognised(transcriber: PocketsphinxTranscriber, phone_speech: PhoneSpeech, day: str) -> None:
    assert recognise(transcriber, Expectation("choice", DAYS), phone_speech(day)).text == day


def test_a_multi_word_choice_comes_back_as_spelled(
    transcriber: PocketsphinxTranscriber, phone_speech: PhoneSpeech
) -> None:
    expect = Expectation("choice", ("New York", "Los Angeles"))
    assert recognise(transcriber, expect, phone_speech("Los Angeles")).text == "Los Angeles"


def test_four_digits_are_returned_as_digit_words(
    transcriber: PocketsphinxTranscriber, phone_speech: PhoneSpeech
) -> None:
    said = phone_speech("one two three four")
    assert recognise(transcriber, Expectation("digits", length=4), said).text == "one two three four"


def test_a_number_is_returned_as_number_words(transcriber: PocketsphinxTranscriber, phone_speech: PhoneSpeech) -> None:
    said = phone_speech("two hundred and forty five")
    assert recognise(transcriber, Expectation("number"), said).text == "two hundred and forty five"


def test_a_relative_date_is_recognised(transcriber: PocketsphinxTranscriber, phone_speech: PhoneSpeech) -> None:
    assert recognise(transcriber, Expectation("date"), phone_speech("tomorrow")).text == "tomorrow"


def test_open_vocabulary_returns_some_text(transcriber: PocketsphinxTranscriber, phone_speech: PhoneSpeech) -> None:
    said = phone_speech("I would like to book an appointment for next week")
    assert recognise(transcriber, None, said).text.strip() != ""


@pytest.mark.parametrize("expect", [Expectation("yes_no"), Expectation("digits", length=4)])
def test_silence_gives_empty_text(
    transcriber: PocketsphinxTranscriber, phone_speech: PhoneSpeech, expect: Expectation
) -> None:
    assert recognise(transcriber, expect, phone_speech("")).text == ""


def test_finish_without_audio_gives_empty_text(transcriber: PocketsphinxTranscriber) -> None:
    assert transcriber.utterance(Expectation("yes_no")).finish_now() == Transcript("")


def test_concurrent_utterances_get_different_decoders() -> None:
    pool = DecoderPool()
    t = PocketsphinxTranscriber(pool)
    first, second = t.utterance(Expectation("yes_no")), t.utterance(Expectation("yes_no"))
    assert first._decoder is not second._decoder


def test_a_finished_utterance_returns_its_decoder_to_the_pool() -> None:
    pool = DecoderPool()
    t = PocketsphinxTranscriber(pool)
    t.utterance(Expectation("yes_no")).finish_now()
    t.utterance(Expectation("yes_no")).finish_now()
    assert pool.created["grammar"] == 1


def test_utterances_on_threads_each_get_their_answer(phone_speech: PhoneSpeech) -> None:
    t = PocketsphinxTranscriber(DecoderPool())
    audio = {"yes": phone_speech("yes"), "no": phone_speech("no")}
    heard: dict[str, str] = {}

    def run(word: str) -> None:
        heard[word] = recognise(t, Expectation("yes_no"), audio[word]).text

    threads = [threading.Thread(target=run, args=(w,)) for w in audio]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert heard == {"yes": "yes", "no": "no"}


def test_scripted_transcriber_returns_its_lines_in_order() -> None:
    t = ScriptedTranscriber(["yes", "tuesday"])
    texts = []
    for _ in range(3):
        u = t.utterance(None)
        u.push(bytes(640))
        texts.append(asyncio.run(u.finish()).text)
    assert texts == ["yes", "tuesday", ""]


def test_scripted_transcriber_counts_the_audio_it_is_fed() -> None:
    u = ScriptedTranscriber(["x"]).utterance(None)
    u.push(bytes(640))
    u.push(bytes(640))
    assert u.bytes_fed == 1280


def test_scripted_transcriber_asks_a_callable_with_the_expectation() -> None:
    t = ScriptedTranscriber(lambda expect: "yes" if expect and expect.kind == "yes_no" else "hello")
    yes_no, open_text = t.utterance(Expectation("yes_no")), t.utterance(None)
    assert (asyncio.run(yes_no.finish()).text, asyncio.run(open_text.finish()).text) == ("yes", "hello")


async def test_finish_is_awaitable_and_declares_its_rate(phone_speech: PhoneSpeech) -> None:
    t = PocketsphinxTranscriber(DecoderPool())
    assert t.sample_rate == 16000
    u = t.utterance(Expectation("yes_no"))
    for frame in frames_of(phone_speech("yes")):
        u.push(frame)
    assert (await u.finish()).text == "yes"


def test_a_pause_gives_the_hypothesis_so_far_as_partial_text(phone_speech: PhoneSpeech) -> None:
    u = PocketsphinxTranscriber(DecoderPool()).utterance(Expectation("yes_no"))
    for frame in frames_of(phone_speech("yes")):
        u.push(frame)
    assert u.partial() is None
    u.pause()
    assert u.partial() == "yes"
    u.resume()
    assert u.partial() is None
    u.close()


def test_pushing_after_finish_is_a_transcriber_error() -> None:
    u = PocketsphinxTranscriber(DecoderPool()).utterance(Expectation("yes_no"))
    u.finish_now()
    with pytest.raises(TranscriberError) as raised:
        u.push(bytes(640))
    assert raised.value.retryable is False
