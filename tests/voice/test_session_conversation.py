"""CallSession: greeting, answers, endpointing, barge-in, DTMF, recording and latency.

Driven in real time by ``FakeCarrier`` over a ``QueueTransport``: caller audio is a voiced
sound through the real μ-law codec and VAD; words come from a scripted recogniser where
recognition is not the subject.
"""

from __future__ import annotations

import numpy as np
from tests.voice.session_harness import FakeCarrier, TinyDialogue, gap, run_call, vowel
from tests.voice.voice_fakes import ScriptedRecognizer, WordToneSynth

from callwright.dialogue.base import End, Listen, Say, UserInput
from callwright.domain.expectation import Expectation
from callwright.voice.session import CallSession
from callwright.voice.session_types import SessionConfig, SessionEvent, StateEvent, TranscriptEvent
from callwright.voice.stt.base import TranscriberError
from callwright.voice.transport import QueueTransport

YES_NO = Expectation(kind="yes_no")


def greeting(*texts: str, node: str = "q") -> list[Say | Listen | End]:
    return [*[Say(t, node) for t in texts], Listen(YES_NO, node)]


def answer_on_listen(seconds: float = 0.5) -> object:
    answered: list[str] = []

    def on_listen(carrier: FakeCarrier, node: str) -> None:
        if not answered:
            answered.append(node)
            carrier.say(vowel(seconds), pause_s=0.2)

    return on_listen


def session_for(
    dialogue: TinyDialogue,
    recognizer: ScriptedRecognizer | None = None,
    config: SessionConfig | None = None,
    events: list[SessionEvent] | None = None,
) -> tuple[CallSession, QueueTransport]:
    transport = QueueTransport()
    session = CallSession(
        transport,
        dialogue,
        recognizer or ScriptedRecognizer(["yes"]),
        WordToneSynth(ms_per_word=60),
        config or SessionConfig(end_call_after_silence_s=5),
        on_event=events.append if events is not None else None,
    )
    return session, transport


async def test_greeting_goes_out_as_frames_with_say_then_listen_marks() -> None:
    dialogue = TinyDialogue(greeting("Hello there.", "Can you hear me?"))
    session, transport = session_for(dialogue)
    carrier = FakeCarrier(transport, on_listen=lambda c, node: c.transport.stop())
    result = await run_call(session, carrier)
    kinds = [kind for kind, _ in transport.sent]
    marks = [value for kind, value in transport.sent if kind == "mark"]
    assert marks == ["say:1", "listen:q"]
    assert kinds[0] == "audio" and kinds.index("mark") == 6  # 2 words x 60 ms = 6 frames
    assert all(len(v) == 160 for k, v in transport.sent if k == "audio" and isinstance(v, bytes))
    assert carrier.marks_played == ["say:1", "listen:q"]
    assert result.end_reason == "user_hangup" and result.status == "completed"
    assert [(t.role, t.text, t.interrupted) for t in result.transcript] == [
        ("agent", "Hello there. Can you hear me?", False)
    ]


async def test_caller_answer_becomes_a_user_turn_and_the_reply_is_spoken() -> None:
    dialogue = TinyDialogue(greeting("Shall we?"), [Say("Great, bye."), End("completed")])
    recognizer = ScriptedRecognizer(["yes"])
    events: list[SessionEvent] = []
    session, transport = session_for(dialogue, recognizer, events=events)
    result = await run_call(session, FakeCarrier(transport, on_listen=answer_on_listen()))
    assert dialogue.inputs == [UserInput(text="yes", confidence=0.9)]
    assert recognizer.expects == [YES_NO]
    assert [(t.role, t.text) for t in result.transcript] == [
        ("agent", "Shall we?"),
        ("user", "yes"),
        ("agent", "Great, bye."),
    ]
    assert (result.status, result.end_reason, result.outcome) == ("completed", "agent_hangup", "completed")
    assert result.results == {"turn1": "yes"}
    assert TranscriptEvent("user", "yes") in events and StateEvent("ended", "agent_hangup") in events


async def test_recogniser_gets_the_speech_with_pre_roll() -> None:
    dialogue = TinyDialogue(greeting("Ready?"), [End("completed")])
    recognizer = ScriptedRecognizer(["yes"])
    session, transport = session_for(dialogue, recognizer)
    await run_call(session, FakeCarrier(transport, on_listen=answer_on_listen(0.5)))
    # 500 ms of speech plus up to 200 ms of pre-roll, then the frames until the endpoint.
    assert 500 <= recognizer.fed_ms[0] <= 500 + 200 + 500 + 60


async def test_reply_starts_no_sooner_than_endpointing_after_the_caller_stops() -> None:
    dialogue = TinyDialogue(greeting("Ready?"), [Say("Okay."), End("completed")])
    config = SessionConfig(endpointing_ms=700)
    session, transport = session_for(dialogue, config=config)
    carrier = FakeCarrier(transport, on_listen=answer_on_listen())
    result = await run_call(session, carrier)
    user = result.transcript[1]
    reply_tick = next(t for t in carrier.heard_ticks if t > carrier.speech_ticks[-1])
    assert (reply_tick - carrier.speech_ticks[-1]) * 20 >= 700
    assert result.transcript[2].start_ms - user.end_ms >= 700 - 20  # same clock, within a frame


async def test_a_pause_shorter_than_endpointing_keeps_one_turn() -> None:
    dialogue = TinyDialogue(greeting("Ready?"), [End("completed")])
    recognizer = ScriptedRecognizer(["yes", "extra"])
    session, transport = session_for(dialogue, recognizer, SessionConfig(endpointing_ms=600))

    def on_listen(carrier: FakeCarrier, node: str) -> None:
        carrier.say(vowel(0.4) + gap(0.3) + vowel(0.4), pause_s=0.2)

    result = await run_call(session, FakeCarrier(transport, on_listen=on_listen))
    assert [t.text for t in result.transcript if t.role == "user"] == ["yes"]
    assert len(dialogue.inputs) == 1


async def test_barge_in_clears_the_carrier_and_cuts_the_agent_turn() -> None:
    long_text = "one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen."
    dialogue = TinyDialogue(
        [Say(long_text, "intro"), Say("Is that okay?", "q"), Listen(YES_NO, "q")],
        [Say("Right."), End("completed")],
    )
    recognizer = ScriptedRecognizer(["stop"])
    session, transport = session_for(dialogue, recognizer)
    carrier = FakeCarrier(transport, on_agent_ms=(300, lambda c: c.say(vowel(0.6))))
    result = await run_call(session, carrier)
    assert ("clear", None) in transport.sent
    agent, user, reply = result.transcript
    assert agent.interrupted and agent.role == "agent"
    assert agent.text and long_text.startswith(agent.text) and agent.text != long_text
    assert (user.role, user.text) == ("user", "stop")
    assert dialogue.inputs == [UserInput(text="stop", confidence=0.9)]
    assert (reply.text, reply.interrupted) == ("Right.", False)
    assert "listen:q" in carrier.marks_cleared or "listen:q" not in carrier.marks_played


async def test_a_short_sound_over_the_agent_does_not_interrupt() -> None:
    dialogue = TinyDialogue(greeting("one two three four five six seven eight nine ten."))
    session, transport = session_for(dialogue, ScriptedRecognizer(["uh huh"]))

    def on_listen(c: FakeCarrier, node: str) -> None:
        c.transport.stop()

    carrier = FakeCarrier(transport, on_agent_ms=(100, lambda c: c.say(vowel(0.16))), on_listen=on_listen)
    result = await run_call(session, carrier)
    assert ("clear", None) not in transport.sent
    assert dialogue.inputs == []
    assert not result.transcript[0].interrupted


async def test_no_barge_in_when_interruptions_are_off() -> None:
    dialogue = TinyDialogue(greeting("one two three four five six seven eight nine ten."))
    config = SessionConfig(allow_interruptions=False)
    session, transport = session_for(dialogue, config=config)
    carrier = FakeCarrier(
        transport,
        on_agent_ms=(100, lambda c: c.say(vowel(0.5))),
        on_listen=lambda c, node: c.transport.stop(),
    )
    result = await run_call(session, carrier)
    assert ("clear", None) not in transport.sent
    assert dialogue.inputs == []
    assert result.transcript[0].text == "one two three four five six seven eight nine ten."


async def test_keyed_digits_form_a_turn_of_the_expected_length() -> None:
    digits = Expectation(kind="digits", length=4)
    dialogue = TinyDialogue([Say("Your PIN?", "pin"), Listen(digits, "pin")], [End("completed")])
    session, transport = session_for(dialogue)

    def on_listen(carrier: FakeCarrier, node: str) -> None:
        for d in "1234":
            carrier.transport.push_dtmf(d)

    result = await run_call(session, FakeCarrier(transport, on_listen=on_listen))
    assert dialogue.inputs == [UserInput(dtmf="1234")]
    assert [(t.role, t.text) for t in result.transcript][1] == ("user", "1234")
    assert result.end_reason == "agent_hangup"


async def test_recording_has_the_caller_left_and_the_agent_right() -> None:
    dialogue = TinyDialogue(greeting("one two three four five six seven eight."), [End("completed")])
    session, transport = session_for(dialogue)
    result = await run_call(session, FakeCarrier(transport, on_listen=answer_on_listen(0.6)))
    assert result.recording is not None
    left = np.frombuffer(result.recording.channel(0), dtype="<i2").astype(float)
    right = np.frombuffer(result.recording.channel(1), dtype="<i2").astype(float)
    agent, user = result.transcript[0], result.transcript[1]

    def energy(x: np.ndarray, start_ms: int, end_ms: int) -> float:
        return float(np.mean(x[start_ms * 8 : end_ms * 8] ** 2))

    assert energy(right, agent.start_ms, agent.end_ms) > 100 * (energy(left, agent.start_ms, agent.end_ms) + 1)
    assert energy(left, user.start_ms, user.end_ms) > 100 * (energy(right, user.start_ms, user.end_ms) + 1)


async def test_latency_is_recorded_per_turn_and_adds_up() -> None:
    dialogue = TinyDialogue(greeting("Ready?"), [Say("Okay then."), Listen(YES_NO, "q2")], [End("completed")])
    session, transport = session_for(dialogue, ScriptedRecognizer(["yes", "no"]))
    carrier = FakeCarrier(transport, on_listen=lambda c, node: c.say(vowel(0.4), pause_s=0.2))
    result = await run_call(session, carrier)
    assert result.latency.n == 1
    turn = result.latency.turns[0]
    parts = turn.endpointing + turn.stt + turn.dialogue + turn.tts + turn.overhead
    assert parts <= turn.total + 1e-6
    assert turn.endpointing >= 400  # the 500 ms rule, measured on the wall clock
    summary = result.latency.to_dict()["summary"]
    assert set(summary) == {
        "endpointing_ms", "stt_ms", "dialogue_ms", "tools_ms", "tts_ms", "overhead_ms", "total_ms"
    }


async def test_a_slow_recogniser_does_not_hold_up_the_inbound_audio_and_stt_time_is_measured() -> None:
    """finish() is awaited off the inbound task: frames keep being read while it runs, and the
    latency record's stt share is the recogniser's time."""
    dialogue = TinyDialogue(greeting("Shall we?"), [Say("Great, bye."), End("completed")])
    recognizer = ScriptedRecognizer(["yes"], delay_s=0.3)
    session, transport = session_for(dialogue, recognizer)
    carrier = FakeCarrier(transport, on_listen=answer_on_listen())
    frames_at_end: list[int] = []
    original = recognizer.utterance

    def watch(expect: Expectation | None) -> object:
        utterance = original(expect)
        inner = utterance.finish

        async def finish() -> object:
            frames_at_end.append(session.listener.frames)
            result = await inner()
            frames_at_end.append(session.listener.frames)
            return result

        utterance.finish = finish  # type: ignore[method-assign]
        return utterance

    recognizer.utterance = watch  # type: ignore[method-assign,assignment]
    result = await run_call(session, carrier)
    assert dialogue.inputs == [UserInput(text="yes", confidence=0.9)]
    assert frames_at_end[1] - frames_at_end[0] >= 10  # ~15 frames arrived during the 300 ms decode
    assert recognizer.pauses >= 1  # told when the endpointing silence began
    turn = result.latency.turns[0]
    assert 280 <= turn.stt <= 600


async def test_a_failing_recogniser_gives_an_empty_turn_not_a_failed_call() -> None:
    dialogue = TinyDialogue(greeting("Shall we?"), [Say("Sorry?"), End("completed")])

    class Broken(ScriptedRecognizer):
        def utterance(self, expect: Expectation | None) -> object:  # type: ignore[override]
            utterance = super().utterance(expect)

            async def finish() -> object:
                raise TranscriberError("service unavailable", retryable=True)

            utterance.finish = finish  # type: ignore[method-assign]
            return utterance

    session, transport = session_for(dialogue, Broken(["yes"]))
    result = await run_call(session, FakeCarrier(transport, on_listen=answer_on_listen()))
    assert dialogue.inputs == [UserInput(text="", confidence=None)]
    assert result.status == "completed"
