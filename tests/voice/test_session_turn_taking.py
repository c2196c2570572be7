"""End of turn and interruptions: silence, the turn model's judgement, the grammar, backchannels.

Real-time calls through ``FakeCarrier`` (real μ-law, real VAD); the turn model is a stand-in
with a fixed judgement, so what is tested is how the session uses a judgement, not the model
(tests/voice/test_turn_detector.py tests the model). Gaps are read on the stream clock.
"""

from __future__ import annotations

from tests.voice.session_harness import FakeCarrier, TinyDialogue, gap, run_call, vowel
from tests.voice.voice_fakes import ScriptedRecognizer, WordToneSynth

from callwright.dialogue.base import End, Listen, Say
from callwright.domain.expectation import Expectation
from callwright.voice.end_of_turn import EndOfTurnOptions
from callwright.voice.session import CallSession
from callwright.voice.session_types import SessionConfig, SessionResult
from callwright.voice.transport import QueueTransport

OPEN = Expectation(kind="text")
TURNS = EndOfTurnOptions(short_silence_ms=200, endpointing_ms=700, incomplete_silence_ms=1500)


class FixedTurnModel:
    """Says the same probability of "complete" for every utterance; counts the questions."""

    def __init__(self, probability: float, fail: bool = False) -> None:
        self.probability = probability
        self.fail = fail
        self.asked: list[int] = []

    async def complete_probability_8k(self, pcm8k: bytes) -> float:
        self.asked.append(len(pcm8k))
        if self.fail:
            raise RuntimeError("model broke")
        return self.probability


async def answer(
    caller_audio: bytes,
    *,
    model: FixedTurnModel | None,
    recognizer: ScriptedRecognizer | None = None,
    expect: Expectation = OPEN,
    turns: EndOfTurnOptions | None = TURNS,
) -> SessionResult:
    dialogue = TinyDialogue([Say("Go ahead.", "q"), Listen(expect, "q")], [Say("Thanks."), End("completed")])
    transport = QueueTransport()
    session = CallSession(
        transport,
        dialogue,
        recognizer or ScriptedRecognizer(["my answer"]),
        WordToneSynth(ms_per_word=60),
        SessionConfig(endpointing_ms=700, end_of_turn=turns, end_call_after_silence_s=5),
        turn_model=model,
    )
    said: list[str] = []

    def on_listen(carrier: FakeCarrier, node: str) -> None:
        if not said:
            said.append(node)
            carrier.say(caller_audio, pause_s=0.2)

    return await run_call(session, FakeCarrier(transport, on_listen=on_listen))


def reply_gap_ms(result: SessionResult) -> int:
    user = next(t for t in result.transcript if t.role == "user")
    reply = next(t for t in result.transcript if t.role == "agent" and t.start_ms > user.end_ms)
    return reply.start_ms - user.end_ms


def user_turns(result: SessionResult) -> list[str]:
    return [t.text for t in result.transcript if t.role == "user"]


async def test_a_turn_the_model_calls_complete_ends_after_the_short_silence() -> None:
    model = FixedTurnModel(0.9)
    result = await answer(vowel(0.6), model=model)
    assert model.asked, "the model was asked at the pause"
    assert 200 - 20 <= reply_gap_ms(result) < 700  # not the 700 ms plain rule


async def test_the_model_hears_the_whole_utterance_at_8_khz() -> None:
    model = FixedTurnModel(0.9)
    await answer(vowel(0.6), model=model)
    assert model.asked[0] >= 0.6 * 8000 * 2  # the utterance's 0.6 s, PCM16, with its pre-roll


async def test_a_turn_the_model_calls_unfinished_survives_a_pause_longer_than_endpointing() -> None:
    result = await answer(vowel(0.5) + gap(1.0) + vowel(0.5), model=FixedTurnModel(0.1))
    assert user_turns(result) == ["my answer"]
    assert reply_gap_ms(result) >= 1500 - 20


async def test_without_a_model_the_plain_silence_rule_ends_the_turn() -> None:
    result = await answer(vowel(0.6), model=None)
    assert reply_gap_ms(result) >= 700 - 20


async def test_a_failing_model_leaves_the_plain_silence_rule() -> None:
    result = await answer(vowel(0.6), model=FixedTurnModel(0.9, fail=True))
    assert user_turns(result) == ["my answer"]
    assert reply_gap_ms(result) >= 700 - 20


async def test_without_end_of_turn_options_the_model_is_not_asked() -> None:
    model = FixedTurnModel(0.9)
    result = await answer(vowel(0.6), model=model, turns=None)
    assert model.asked == []
    assert reply_gap_ms(result) >= 700 - 20


async def test_a_satisfied_grammar_ends_the_turn_after_the_short_silence_without_a_model() -> None:
    recognizer = ScriptedRecognizer(["yes"], partials=["yes"])
    result = await answer(vowel(0.4), model=None, recognizer=recognizer, expect=Expectation(kind="yes_no"))
    assert user_turns(result) == ["yes"]
    assert reply_gap_ms(result) < 700


async def test_a_caller_pausing_mid_number_is_not_cut_off_even_when_the_model_says_complete() -> None:
    recognizer = ScriptedRecognizer(["five five five one two three four"], partials=["five five five"])
    digits = Expectation(kind="digits", length=7)
    audio = vowel(0.6) + gap(1.0) + vowel(0.6)
    result = await answer(audio, model=FixedTurnModel(0.9), recognizer=recognizer, expect=digits)
    assert user_turns(result) == ["five five five one two three four"]


# --- speech over the agent ------------------------------------------------------------------------


async def talk_over_agent(recognizer: ScriptedRecognizer, seconds: float = 0.8) -> tuple[SessionResult, QueueTransport]:
    long_text = "one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen."
    dialogue = TinyDialogue([Say(long_text, "intro"), Listen(OPEN, "q")], [Say("Right."), End("completed")])
    transport = QueueTransport()
    session = CallSession(
        transport,
        dialogue,
        recognizer,
        WordToneSynth(ms_per_word=80),
        SessionConfig(end_of_turn=TURNS, end_call_after_silence_s=3),
    )
    carrier = FakeCarrier(
        transport,
        on_agent_ms=(200, lambda c: c.say(vowel(seconds))),
        on_listen=lambda c, node: c.transport.stop(),
    )
    return await run_call(session, carrier), transport


async def test_uh_huh_over_the_agent_does_not_interrupt_it() -> None:
    result, transport = await talk_over_agent(ScriptedRecognizer(["uh-huh"], partials=["Uh-huh."]))
    assert ("clear", None) not in transport.sent
    assert not result.transcript[0].interrupted
    assert "uh-huh" not in user_turns(result)


async def test_okay_and_mm_hm_over_the_agent_do_not_interrupt_it() -> None:
    _, transport = await talk_over_agent(ScriptedRecognizer(["okay mm-hm"], partials=["Okay, mm-hm."]))
    assert ("clear", None) not in transport.sent


async def test_real_words_over_the_agent_interrupt_it() -> None:
    result, transport = await talk_over_agent(ScriptedRecognizer(["wait, stop"], partials=["Wait, stop."]))
    assert ("clear", None) in transport.sent
    assert result.transcript[0].interrupted
    assert "wait, stop" in user_turns(result)


async def test_without_words_from_the_recogniser_the_duration_decides() -> None:
    _, transport = await talk_over_agent(ScriptedRecognizer(["uh-huh"]))
    assert ("clear", None) in transport.sent
