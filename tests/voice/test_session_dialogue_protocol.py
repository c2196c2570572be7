"""CallSession and the dialogue protocol: the dialogue hears what played, tool calls are recorded,
key presses go out as tones, and a transfer hands the call to the carrier after the last words."""

from __future__ import annotations

from tests.voice.session_harness import FakeCarrier, TinyDialogue, run_call, vowel
from tests.voice.voice_fakes import ScriptedRecognizer, WordToneSynth

from callwright.dialogue.base import End, Listen, PressDigits, Say, ToolFinished, ToolStarted, Transfer
from callwright.domain.expectation import Expectation
from callwright.telephony.simulator.dtmf_detect import DtmfDetector
from callwright.voice.session import CallSession
from callwright.voice.session_types import SessionConfig, SessionEvent, ToolEvent
from callwright.voice.transport import QueueTransport

TEXT = Expectation(kind="text")
LONG = "one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen."


def session_for(
    dialogue: TinyDialogue,
    events: list[SessionEvent] | None = None,
    transfers: list[str] | None = None,
    fail_transfer: bool = False,
) -> tuple[CallSession, QueueTransport]:
    async def transfer(to: str) -> None:
        if fail_transfer:
            raise RuntimeError("the carrier refused")
        if transfers is not None:
            transfers.append(to)

    transport = QueueTransport()
    session = CallSession(
        transport,
        dialogue,
        ScriptedRecognizer(["stop"]),
        WordToneSynth(ms_per_word=60),
        SessionConfig(end_call_after_silence_s=3),
        on_event=events.append if events is not None else None,
        transfer=transfer,
    )
    return session, transport


async def test_the_dialogue_hears_only_what_played_before_a_barge_in() -> None:
    dialogue = TinyDialogue([Say(LONG), Listen(TEXT)], [Say("Right."), End("completed")])
    session, transport = session_for(dialogue)
    carrier = FakeCarrier(transport, on_agent_ms=(300, lambda c: c.say(vowel(0.6))))
    result = await run_call(session, carrier)
    cut = result.transcript[0]
    assert cut.interrupted
    assert dialogue.heard_turns[0] == (cut.text, True)
    assert LONG.startswith(cut.text) and cut.text != LONG
    assert dialogue.heard_turns[1] == ("Right.", False)


async def test_a_turn_played_in_full_is_heard_in_full_before_the_caller_is_answered() -> None:
    dialogue = TinyDialogue([Say("Shall we?"), Listen(TEXT)], [Say("Good."), End("completed")])
    session, transport = session_for(dialogue)
    answered: list[bool] = []

    def on_listen(carrier: FakeCarrier, node: str) -> None:
        if not answered:
            answered.append(True)
            carrier.say(vowel(0.5), pause_s=0.2)

    await run_call(session, FakeCarrier(transport, on_listen=on_listen))
    assert dialogue.heard_turns == [("Shall we?", False), ("Good.", False)]


async def test_tool_calls_are_recorded_with_their_results_and_reported_live() -> None:
    events: list[SessionEvent] = []
    dialogue = TinyDialogue([
        ToolStarted("t1", "lookup", "http", {"id": 7}),
        ToolFinished("t1", "lookup", True, {"status": "shipped"}, 12.5),
        Say("It shipped."),
        End("completed"),
    ])
    session, transport = session_for(dialogue, events)
    result = await run_call(session, FakeCarrier(transport))
    (record,) = result.tool_calls
    assert (record["name"], record["kind"], record["arguments"]) == ("lookup", "http", {"id": 7})
    assert (record["ok"], record["result"], record["duration_ms"]) == (True, {"status": "shipped"}, 12.5)
    assert [e.phase for e in events if isinstance(e, ToolEvent)] == ["started", "finished"]


async def test_pressed_digits_go_out_as_tones_after_the_words_before_them() -> None:
    dialogue = TinyDialogue([Say("Pressing one."), PressDigits("1#"), Listen(TEXT)])
    session, transport = session_for(dialogue)
    result = await run_call(session, FakeCarrier(transport, on_listen=lambda c, node: c.transport.stop()))
    audio = [value for kind, value in transport.sent if kind == "audio" and isinstance(value, bytes)]
    detector = DtmfDetector()
    heard = [digit for frame in audio for digit in detector.feed(frame)]
    assert heard == ["1", "#"]
    assert [t.text for t in result.transcript] == ["Pressing one."]


async def test_a_transfer_reaches_the_carrier_after_the_last_words_played() -> None:
    transfers: list[str] = []
    dialogue = TinyDialogue([Say("Transferring you now."), Transfer("+14155552671")])
    session, transport = session_for(dialogue, transfers=transfers)
    carrier = FakeCarrier(transport)
    result = await run_call(session, carrier)
    assert transfers == ["+14155552671"]
    assert carrier.marks_played == ["say:1"]
    assert (result.status, result.end_reason, result.transferred_to) == ("completed", "transfer", "+14155552671")
    assert result.outcome == "transferred"


async def test_a_transfer_the_carrier_refuses_ends_the_call_saying_why() -> None:
    dialogue = TinyDialogue([Say("Transferring."), Transfer("+14155552671")])
    session, transport = session_for(dialogue, fail_transfer=True)
    result = await run_call(session, FakeCarrier(transport))
    assert (result.end_reason, result.transferred_to) == ("transfer_failed", None)
    assert result.error == "RuntimeError: the carrier refused"
