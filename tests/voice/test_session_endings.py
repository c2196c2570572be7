"""CallSession: every way a call ends, including the broken ones, ends cleanly with a reason."""

from __future__ import annotations

import asyncio

from tests.telephony.test_ws_transport import FakeSocket, opening
from tests.voice.session_harness import FakeCarrier, TinyDialogue, run_call
from tests.voice.voice_fakes import ScriptedRecognizer, WordToneSynth

from callwright.dialogue.base import End, Listen, Say
from callwright.domain.expectation import Expectation
from callwright.telephony.ws_transport import WebSocketTransport
from callwright.voice.session import CallSession
from callwright.voice.session_types import SessionConfig
from callwright.voice.transport import MediaTransport, QueueTransport

ASK = [Say("Ready?", "q"), Listen(Expectation("yes_no"), "q")]
LONG = "one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen."


def make(
    dialogue: TinyDialogue, config: SessionConfig | None = None, transport: MediaTransport | None = None
) -> tuple[CallSession, MediaTransport]:
    transport = transport or QueueTransport()
    session = CallSession(
        transport, dialogue, ScriptedRecognizer(["yes"]), WordToneSynth(ms_per_word=60), config or SessionConfig()
    )
    return session, transport


async def test_silence_after_the_question_ends_with_silence_timeout() -> None:
    session, transport = make(TinyDialogue(ASK), SessionConfig(end_call_after_silence_s=0.6))
    assert isinstance(transport, QueueTransport)
    result = await run_call(session, FakeCarrier(transport))
    assert (result.status, result.end_reason) == ("completed", "silence_timeout")
    assert transport.closed


async def test_max_duration_ends_the_call_mid_sentence() -> None:
    session, transport = make(TinyDialogue([Say(LONG), *ASK]), SessionConfig(max_duration_s=0.5))
    assert isinstance(transport, QueueTransport)
    result = await run_call(session, FakeCarrier(transport))
    assert (result.status, result.end_reason) == ("completed", "max_duration")
    agent = result.transcript[0]
    assert agent.interrupted and LONG.startswith(agent.text) and agent.text != LONG


async def test_the_caller_hanging_up_mid_sentence_ends_with_user_hangup() -> None:
    session, transport = make(TinyDialogue([Say(LONG), *ASK]))
    assert isinstance(transport, QueueTransport)
    carrier = FakeCarrier(transport, on_agent_ms=(300, lambda c: c.transport.stop()))
    result = await run_call(session, carrier)
    assert (result.status, result.end_reason, result.error) == ("completed", "user_hangup", None)
    assert result.transcript[0].interrupted


async def test_a_stream_that_just_ends_is_a_hang_up() -> None:
    session, transport = make(TinyDialogue(ASK))
    assert isinstance(transport, QueueTransport)
    transport.end()
    result = await asyncio.wait_for(session.run(), 5)
    assert result.end_reason == "user_hangup"


async def test_garbage_on_the_stream_fails_the_call() -> None:
    socket = FakeSocket([*opening(), "this is not json"], hang=True)
    session, _ = make(TinyDialogue(ASK), transport=WebSocketTransport(socket))
    result = await asyncio.wait_for(session.run(), 5)
    assert (result.status, result.end_reason) == ("failed", "stream_error")
    assert result.error is not None and "protocol error" in result.error
    assert socket.closed


async def test_a_dropped_socket_fails_the_call() -> None:
    socket = FakeSocket(opening())  # then the socket raises ConnectionError
    session, _ = make(TinyDialogue(ASK), transport=WebSocketTransport(socket))
    result = await asyncio.wait_for(session.run(), 5)
    assert (result.status, result.end_reason) == ("failed", "stream_error")
    assert result.error is not None and "dropped" in result.error


async def test_a_stream_without_start_fails_without_running_the_dialogue() -> None:
    dialogue = TinyDialogue(ASK)
    socket = FakeSocket([], hang=True)
    session, _ = make(dialogue, transport=WebSocketTransport(socket, start_timeout_s=0.1))
    result = await asyncio.wait_for(session.run(), 5)
    assert (result.status, result.end_reason) == ("failed", "stream_error")
    assert result.error is not None and "start" in result.error
    assert dialogue.started == 0


async def test_request_hangup_cancels_a_live_call() -> None:
    session, transport = make(TinyDialogue([Say(LONG), *ASK]))
    assert isinstance(transport, QueueTransport)
    carrier = FakeCarrier(transport, on_agent_ms=(200, lambda c: session.request_hangup()))
    result = await run_call(session, carrier)
    assert (result.status, result.end_reason) == ("canceled", "canceled")
    assert transport.closed


async def test_a_failing_dialogue_fails_the_call() -> None:
    dialogue = TinyDialogue(ASK, fail_on_turn=1)
    session, transport = make(dialogue)
    assert isinstance(transport, QueueTransport)
    carrier = FakeCarrier(transport, on_listen=lambda c, node: c.transport.push_dtmf("1"))
    result = await run_call(session, carrier)
    assert (result.status, result.end_reason) == ("failed", "dialogue_error")
    assert result.error is not None and "exploded" in result.error


async def test_the_goodbye_is_played_before_hanging_up() -> None:
    session, transport = make(TinyDialogue([Say("Bye now, take care."), End("completed")]))
    assert isinstance(transport, QueueTransport)
    carrier = FakeCarrier(transport)
    result = await run_call(session, carrier)
    assert result.end_reason == "agent_hangup"
    assert carrier.marks_played == ["say:1"]
    assert result.transcript[0].text == "Bye now, take care." and not result.transcript[0].interrupted
