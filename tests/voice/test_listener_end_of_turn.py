"""The listener's side of the end of turn: pauses reported, judgements applied or ignored as stale.

Frames go in on the stream clock (no real time): a voiced vowel through the real μ-law codec
and VAD, then silence.
"""

from __future__ import annotations

from tests.voice.session_harness import gap, to_ulaw_frames, vowel
from tests.voice.voice_fakes import ScriptedRecognizer

from callwright.domain.expectation import Expectation
from callwright.voice.audio import ulaw_decode
from callwright.voice.end_of_turn import EndOfTurnOptions
from callwright.voice.listener import Listener, PartialHeard, Signal, SpeechEnded, SpeechPaused

TURNS = EndOfTurnOptions(short_silence_ms=200, endpointing_ms=700, incomplete_silence_ms=1500)


def feed(listener: Listener, pcm16k: bytes) -> list[Signal]:
    signals: list[Signal] = []
    for frame in to_ulaw_frames(pcm16k):
        signals.extend(listener.frame(ulaw_decode(frame)))
    return signals


def listener(recognizer: ScriptedRecognizer | None = None) -> Listener:
    return Listener(recognizer or ScriptedRecognizer(["hello"]), end_of_turn=TURNS)


def test_a_pause_is_reported_once_per_silence() -> None:
    ear = listener()
    signals = feed(ear, gap(0.1) + vowel(0.5) + gap(0.3))
    pauses = [s for s in signals if isinstance(s, SpeechPaused)]
    assert [p.pause for p in pauses] == [1]


def test_a_complete_judgement_after_the_short_silence_ends_the_turn_at_once() -> None:
    ear = listener()
    signals = feed(ear, gap(0.1) + vowel(0.5) + gap(0.25))
    (paused,) = [s for s in signals if isinstance(s, SpeechPaused)]
    ended = ear.judge(paused.utterance, paused.pause, 0.9)
    assert isinstance(ended, SpeechEnded)
    assert not ear.in_speech


def test_a_complete_judgement_before_the_short_silence_ends_the_turn_when_it_has_run() -> None:
    ear = listener()
    signals = feed(ear, gap(0.1) + vowel(0.5) + gap(0.14))
    (paused,) = [s for s in signals if isinstance(s, SpeechPaused)]
    assert ear.judge(paused.utterance, paused.pause, 0.9) is None
    later = feed(ear, gap(0.1))
    assert any(isinstance(s, SpeechEnded) for s in later)


def test_a_judgement_of_a_pause_the_caller_spoke_after_is_ignored() -> None:
    ear = listener()
    signals = feed(ear, gap(0.1) + vowel(0.5) + gap(0.25))
    (paused,) = [s for s in signals if isinstance(s, SpeechPaused)]
    feed(ear, vowel(0.3))
    assert ear.judge(paused.utterance, paused.pause, 0.9) is None
    assert ear.in_speech
    assert not any(isinstance(s, SpeechEnded) for s in feed(ear, gap(0.4)))  # back to 700 ms


def test_an_unfinished_judgement_holds_the_turn_past_endpointing() -> None:
    ear = listener()
    signals = feed(ear, gap(0.1) + vowel(0.5) + gap(0.2))
    (paused,) = [s for s in signals if isinstance(s, SpeechPaused)]
    assert ear.judge(paused.utterance, paused.pause, 0.1) is None
    assert not any(isinstance(s, SpeechEnded) for s in feed(ear, gap(1.0)))
    assert any(isinstance(s, SpeechEnded) for s in feed(ear, gap(0.4)))


def test_the_turn_audio_is_the_utterance_at_8_khz() -> None:
    ear = listener()
    feed(ear, gap(0.3) + vowel(0.5) + gap(0.15))
    assert 0.5 * 16000 <= len(ear.turn_audio()) <= (0.5 + 0.2 + 0.15 + 0.1) * 16000


def test_words_asked_for_arrive_as_partial_text() -> None:
    ear = listener(ScriptedRecognizer(["uh-huh"], partials=["uh-huh"]))
    started = feed(ear, gap(0.1) + vowel(0.2))
    assert ear.current_utterance is not None and started
    assert ear.want_words(ear.current_utterance)
    heard = [s for s in feed(ear, vowel(0.1)) if isinstance(s, PartialHeard)]
    assert [h.text for h in heard] == ["uh-huh"]


def test_a_yes_heard_at_the_pause_ends_a_yes_no_turn_after_the_short_silence() -> None:
    ear = listener(ScriptedRecognizer(["yes"], partials=["yes"]))
    ear.expect = Expectation(kind="yes_no")
    signals = feed(ear, gap(0.1) + vowel(0.4) + gap(0.25))
    assert any(isinstance(s, SpeechEnded) for s in signals)


def test_when_the_words_can_settle_the_answer_the_model_alone_does_not_end_the_turn() -> None:
    ear = listener(ScriptedRecognizer(["five five five"]))  # no partial text (yet)
    ear.expect = Expectation(kind="digits", length=10)
    signals = feed(ear, gap(0.1) + vowel(0.5) + gap(0.25))
    (paused,) = [s for s in signals if isinstance(s, SpeechPaused)]
    assert ear.judge(paused.utterance, paused.pause, 0.95) is None
    assert ear.in_speech


def test_an_utterance_that_interrupted_the_agent_never_ends_on_the_short_silence() -> None:
    ear = listener()
    signals = feed(ear, gap(0.1) + vowel(0.5))
    assert ear.current_utterance is not None and signals
    ear.interrupted_by(ear.current_utterance)
    (paused,) = [s for s in feed(ear, gap(0.25)) if isinstance(s, SpeechPaused)]
    assert ear.judge(paused.utterance, paused.pause, 0.95) is None  # "Sorry," is not all they say
    assert any(isinstance(s, SpeechEnded) for s in feed(ear, gap(0.5)))  # the agent's 700 ms rule
