"""CallSession on an answering machine: wait for the beep, then leave the message or hang up."""

from __future__ import annotations

from tests.voice.session_harness import FakeCarrier, TinyDialogue, beep_ulaw, gap, run_call, to_ulaw_frames, vowel
from tests.voice.voice_fakes import ScriptedRecognizer, WordToneSynth

from callwright.dialogue.base import Listen, Say
from callwright.domain.expectation import Expectation
from callwright.voice.session import CallSession
from callwright.voice.session_types import SessionConfig
from callwright.voice.transport import QueueTransport

ASK = [Say("Hi, this is Acme calling about your appointment.", "q"), Listen(Expectation("yes_no"), "q")]
MESSAGE = "Hi, this is Acme. Please call us back."


def machine(carrier: FakeCarrier, greeting_s: float, beep_s: float = 0.5) -> int:
    """Queue a greeting then a beep; returns the tick at which the beep's last frame is sent."""
    greeting = to_ulaw_frames(vowel(greeting_s) + gap(0.1))
    carrier.send_frames(greeting + beep_ulaw(1000, beep_s))
    return len(greeting) + round(beep_s / 0.02)


def make(
    config: SessionConfig, dialogue: TinyDialogue | None = None
) -> tuple[CallSession, QueueTransport, TinyDialogue]:
    dialogue = dialogue or TinyDialogue(ASK)
    transport = QueueTransport()
    session = CallSession(transport, dialogue, ScriptedRecognizer(["hello"]), WordToneSynth(60), config)
    return session, transport, dialogue


async def test_answered_by_machine_leaves_the_message_after_the_beep() -> None:
    config = SessionConfig(answered_by="machine_end_beep", voicemail_action="leave_message", voicemail_message=MESSAGE)
    session, transport, dialogue = make(config)
    carrier = FakeCarrier(transport)
    beep_end_tick = machine(carrier, greeting_s=1.2)
    result = await run_call(session, carrier)
    assert dialogue.started == 0
    assert (result.status, result.end_reason) == ("voicemail", "voicemail_message_left")
    assert carrier.heard_ticks and carrier.heard_ticks[0] > beep_end_tick
    assert carrier.heard_frames == 8 * 3  # the whole message: 8 words of 60 ms
    assert [(t.role, t.text) for t in result.transcript] == [("agent", MESSAGE)]


async def test_answered_by_machine_with_hangup_sends_no_audio() -> None:
    session, transport, dialogue = make(SessionConfig(answered_by="machine_start", voicemail_action="hangup"))
    carrier = FakeCarrier(transport)
    machine(carrier, greeting_s=0.6)
    result = await run_call(session, carrier)
    assert (result.status, result.end_reason) == ("voicemail", "voicemail_hangup")
    assert not [item for item in transport.sent if item[0] == "audio"]
    assert dialogue.started == 0


async def test_a_machine_without_a_beep_gets_the_message_after_its_greeting_goes_quiet() -> None:
    config = SessionConfig(
        answered_by="machine_end_other", voicemail_action="leave_message", voicemail_message=MESSAGE,
        voicemail_silence_ms=600,
    )
    session, transport, _ = make(config)
    carrier = FakeCarrier(transport)
    carrier.say(vowel(0.8))
    result = await run_call(session, carrier)
    assert result.end_reason == "voicemail_message_left"
    assert carrier.heard_ticks[0] > carrier.speech_ticks[-1] + 600 // 20


async def test_a_long_greeting_without_the_carrier_signal_is_detected() -> None:
    config = SessionConfig(detect_voicemail=True, voicemail_action="leave_message", voicemail_message=MESSAGE)
    session, transport, dialogue = make(config)
    carrier = FakeCarrier(transport)
    beep_end_tick = machine(carrier, greeting_s=3.4)
    result = await run_call(session, carrier)
    assert dialogue.started == 1 and dialogue.inputs == []  # it greeted, then gave up on a person
    assert ("clear", None) in transport.sent
    assert (result.status, result.end_reason) == ("voicemail", "voicemail_message_left")
    message_ticks = [t for t in carrier.heard_ticks if t > carrier.clears[0]]
    assert message_ticks and message_ticks[0] > beep_end_tick
    assert result.transcript[-1].text == MESSAGE


async def test_a_beep_alone_without_the_signal_is_detected() -> None:
    config = SessionConfig(detect_voicemail=True, voicemail_action="hangup")
    session, transport, _ = make(config)
    carrier = FakeCarrier(transport)
    carrier.send_frames(beep_ulaw(1000, 0.5))
    result = await run_call(session, carrier)
    assert (result.status, result.end_reason) == ("voicemail", "voicemail_hangup")


async def test_a_person_saying_hello_is_not_a_machine() -> None:
    config = SessionConfig(detect_voicemail=True, voicemail_action="hangup", end_call_after_silence_s=1)
    session, transport, dialogue = make(config, TinyDialogue(ASK, [Say("Great."), Listen(Expectation(), "x")]))
    carrier = FakeCarrier(transport)
    carrier.say(vowel(0.6))
    result = await run_call(session, carrier)
    assert result.status == "completed"
    assert [i.text for i in dialogue.inputs] == ["hello"]
