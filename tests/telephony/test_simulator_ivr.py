"""The simulated callee as a phone menu (it hears the agent's DTMF tones), and cold transfer.

Same harness as test_simulator.py: a bare Media Streams server plays the agent, and agent audio
doubles as the clock (a mark comes back once the audio before it has been played).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pydantic
import pytest
from tests.telephony.test_simulator import STEP, Agent, Statuses, ToneSynthesizer, connect_call, dial
from websockets.asyncio.server import serve

from callwright.telephony.base import TransferError
from callwright.telephony.media_stream import Mark, Stop, encode_media
from callwright.telephony.simulator import behavior
from callwright.telephony.simulator.behavior import INVALID_OPTION, SimulatedCallee, resolve_behavior
from callwright.telephony.simulator.callee import SILENCE_FRAME
from callwright.telephony.simulator.carrier import SimulatedCarrier
from callwright.voice.dtmf import dtmf_frames

MENU = behavior.MAGIC_NUMBERS[behavior.PHONE_MENU]
TRANSFER_TO = "+15557654321"


@pytest.fixture
async def side() -> AsyncIterator[tuple[Agent, str]]:
    agent = Agent()
    async with serve(agent.handler, "127.0.0.1", 0, compression=None) as server:
        port = server.sockets[0].getsockname()[1]
        yield agent, f"ws://127.0.0.1:{port}/v1/stream"


@pytest.fixture
async def sim() -> AsyncIterator[SimulatedCarrier]:
    carrier = SimulatedCarrier(
        ToneSynthesizer,
        ring_ms=0,
        peer_options={"turn_pause_s": 0.05, "digit_gap_s": 0.01, "menu_timeout_s": 0.3},
    )
    carrier.keep_finished = True
    yield carrier
    await carrier.aclose()


async def press(agent: Agent, digits: str, mark: str = "say:keys") -> None:
    """The agent keys ``digits`` in-band, then a mark; returns once the callee has played them."""
    assert agent.ws is not None
    for frame in dtmf_frames(digits):
        await agent.ws.send(encode_media(agent.stream_sid, frame))
    await agent.mark(mark)
    await agent.until(Mark, mark)


async def quiet(agent: Agent, seconds: float, mark: str = "say:quiet") -> None:
    """Agent silence for ``seconds`` of playout: lets the callee's timers run on audio time."""
    assert agent.ws is not None
    for _ in range(round(seconds / 0.02)):
        await agent.ws.send(encode_media(agent.stream_sid, SILENCE_FRAME))
    await agent.mark(mark)
    await agent.until(Mark, mark)


# --- hearing keys -------------------------------------------------------------------------


async def test_callee_logs_the_keys_the_agent_plays_as_tones(side: tuple[Agent, str], sim: SimulatedCarrier) -> None:
    agent, url = side
    _, _, peer = await connect_call(sim, url, agent)
    await press(agent, "1234#")
    assert [d.digit for d in peer.digits_heard] == list("1234#")
    times = [d.at_s for d in peer.digits_heard]
    assert times == sorted(times) and times[-1] - times[0] == pytest.approx(0.8, abs=0.1)  # 200 ms a key


async def test_callee_without_a_menu_does_not_answer_keys(side: tuple[Agent, str], sim: SimulatedCarrier) -> None:
    agent, url = side
    _, _, peer = await connect_call(sim, url, agent)
    await press(agent, "1")
    await quiet(agent, 0.6)
    assert [d.digit for d in peer.digits_heard] == ["1"]
    assert peer.lines_spoken == []


async def test_agent_speech_tones_are_not_keys(side: tuple[Agent, str], sim: SimulatedCarrier) -> None:
    agent, url = side
    _, _, peer = await connect_call(sim, url, agent)
    await agent.send_audio(0.5, freq=697)  # one keypad frequency alone is not a key
    await agent.mark("say:0")
    await agent.until(Mark, "say:0")
    assert peer.digits_heard == []


# --- the phone menu -----------------------------------------------------------------------


async def test_phone_menu_speaks_its_greeting_first(side: tuple[Agent, str], sim: SimulatedCarrier) -> None:
    agent, url = side
    _, _, peer = await connect_call(sim, url, agent, to=behavior.PHONE_MENU)
    assert await agent.hear_answer()  # before the agent has sent anything at all
    assert [(line.text, line.trigger) for line in peer.lines_spoken] == [(MENU.greeting, "greeting")]


async def test_phone_menu_answers_the_option_keyed(side: tuple[Agent, str], sim: SimulatedCarrier) -> None:
    agent, url = side
    _, _, peer = await connect_call(sim, url, agent, to=behavior.PHONE_MENU)
    await agent.hear_answer()
    await press(agent, "1")
    assert await agent.hear_answer()
    assert [(line.text, line.trigger) for line in peer.lines_spoken] == [
        (MENU.greeting, "greeting"),
        ("You have reached billing. Please hold for the next agent.", "digits:1"),
    ]


async def test_phone_menu_answers_only_after_keying_pauses(side: tuple[Agent, str], sim: SimulatedCarrier) -> None:
    agent, url = side
    callee = {"menu": {"12": "twelve", "1": "one"}}
    _, _, peer = await connect_call(sim, url, agent, callee=callee)
    await press(agent, "12")
    assert await agent.hear_answer()
    assert [(line.text, line.trigger) for line in peer.lines_spoken] == [("twelve", "digits:12")]


async def test_phone_menu_refuses_an_unknown_option(side: tuple[Agent, str], sim: SimulatedCarrier) -> None:
    agent, url = side
    _, _, peer = await connect_call(sim, url, agent, to=behavior.PHONE_MENU)
    await agent.hear_answer()
    await press(agent, "9")
    assert await agent.hear_answer()
    assert [(line.text, line.trigger) for line in peer.lines_spoken][1:] == [(INVALID_OPTION, "digits:9")]


async def test_phone_menu_starts_a_fresh_choice_after_answering(side: tuple[Agent, str], sim: SimulatedCarrier) -> None:
    agent, url = side
    _, _, peer = await connect_call(sim, url, agent, to=behavior.PHONE_MENU)
    await agent.hear_answer()
    await press(agent, "1")
    await agent.hear_answer()
    await press(agent, "2")
    await agent.hear_answer()
    assert [line.trigger for line in peer.lines_spoken] == ["greeting", "digits:1", "digits:2"]


async def test_phone_menu_is_silent_on_listen_marks(side: tuple[Agent, str], sim: SimulatedCarrier) -> None:
    agent, url = side
    _, _, peer = await connect_call(sim, url, agent, to=behavior.PHONE_MENU)
    await agent.ask("during_greeting")
    await agent.until(Mark, "listen:during_greeting")
    await agent.hear_answer()  # the greeting
    await agent.ask("after_greeting")
    await agent.until(Mark, "listen:after_greeting")
    await quiet(agent, 0.6)
    assert [line.trigger for line in peer.lines_spoken] == ["greeting"]


async def test_greeting_is_spoken_before_scripted_answers(side: tuple[Agent, str], sim: SimulatedCarrier) -> None:
    agent, url = side
    _, _, peer = await connect_call(sim, url, agent, callee={"greeting": "hello?", "says": ["tuesday"]})
    await agent.hear_answer()
    await agent.ask("when")
    await agent.until(Mark, "listen:when")
    await agent.hear_answer()
    assert [(line.text, line.trigger) for line in peer.lines_spoken] == [
        ("hello?", "greeting"),
        ("tuesday", "listen:when"),
    ]


def test_phone_menu_number_is_an_ivr() -> None:
    callee = resolve_behavior("+1 (555) 010-0009", None)
    assert callee.greeting is not None and "press 1" in callee.greeting
    assert set(callee.menu) == {"1", "2"}
    assert callee.line_for_turn(0) is None  # no "yes" on listen marks


def test_menu_letter_keys_are_upper_cased() -> None:
    assert SimulatedCallee(menu={"1a": "x", "B": "y"}).menu == {"1A": "x", "B": "y"}


@pytest.mark.parametrize("key", ["", "1x", "1w2", "1-2", "1" * 33])
def test_menu_keys_that_cannot_be_keyed_are_refused(key: str) -> None:
    with pytest.raises(pydantic.ValidationError, match="pattern"):
        SimulatedCallee(menu={key: "x"})


def test_menu_key_rule_is_in_the_schema() -> None:
    menu = SimulatedCallee.model_json_schema()["properties"]["menu"]
    assert menu["additionalProperties"] is False
    assert list(menu["patternProperties"]) == ["^[0-9*#A-Da-d]{1,32}$"]


# --- cold transfer ------------------------------------------------------------------------


async def test_transfer_stops_the_stream_and_completes_naming_the_number(
    side: tuple[Agent, str], sim: SimulatedCarrier
) -> None:
    agent, url = side
    pid, statuses, peer = await connect_call(sim, url, agent)
    await sim.transfer(pid, TRANSFER_TO)
    stop, _ = await agent.until(Stop)
    await asyncio.wait_for(agent.closed.wait(), STEP)
    await statuses.wait_for("completed")
    assert stop.call_sid == pid
    assert statuses.names == ["ringing", "answered", "completed"]
    detail = statuses.events[-1].detail
    assert (detail["ended_by"], detail["transferred_to"]) == ("transfer", TRANSFER_TO)
    assert isinstance(detail["duration_ms"], int)
    assert (peer.ended_by, peer.transferred_to) == ("transfer", TRANSFER_TO)
    await sim.wait(pid)
    assert sim.active_calls() == []


async def test_transfer_returns_before_the_call_has_ended(side: tuple[Agent, str], sim: SimulatedCarrier) -> None:
    agent, url = side
    pid, statuses, _ = await connect_call(sim, url, agent)
    await sim.transfer(pid, TRANSFER_TO)  # as Twilio's call update: the stream ends afterwards
    assert "completed" not in statuses.names
    await agent.until(Stop)
    assert (await statuses.wait_for("completed")).detail["transferred_to"] == TRANSFER_TO


async def test_the_server_closing_first_still_ends_a_transfer_as_one(
    side: tuple[Agent, str], sim: SimulatedCarrier
) -> None:
    agent, url = side
    pid, statuses, _ = await connect_call(sim, url, agent)
    await sim.transfer(pid, TRANSFER_TO)
    assert agent.ws is not None
    await agent.ws.close()  # the engine hangs up its side as soon as the transfer is accepted
    assert (await statuses.wait_for("completed")).detail["ended_by"] == "transfer"


async def test_hang_up_does_not_name_a_transfer(side: tuple[Agent, str], sim: SimulatedCarrier) -> None:
    agent, url = side
    pid, statuses, _ = await connect_call(sim, url, agent)
    await sim.hang_up(pid)
    assert "transferred_to" not in statuses.events[-1].detail


async def test_transfer_of_an_unknown_call_raises(sim: SimulatedCarrier) -> None:
    with pytest.raises(TransferError):
        await sim.transfer("SIMnope", TRANSFER_TO)


async def test_transfer_of_an_ended_call_raises(side: tuple[Agent, str], sim: SimulatedCarrier) -> None:
    agent, url = side
    pid, _, _ = await connect_call(sim, url, agent)
    await sim.hang_up(pid)
    with pytest.raises(TransferError):
        await sim.transfer(pid, TRANSFER_TO)


async def test_transfer_of_a_ringing_call_raises(side: tuple[Agent, str]) -> None:
    _, url = side
    carrier = SimulatedCarrier(ToneSynthesizer, ring_ms=60_000)
    statuses = Statuses()
    try:
        pid = await carrier.place_call(dial(url), statuses)
        await statuses.wait_for("ringing")
        with pytest.raises(TransferError, match="not been answered"):
            await carrier.transfer(pid, TRANSFER_TO)
    finally:
        await carrier.aclose()


async def test_a_second_transfer_raises(side: tuple[Agent, str], sim: SimulatedCarrier) -> None:
    agent, url = side
    pid, _, peer = await connect_call(sim, url, agent)
    peer.transfer(TRANSFER_TO)
    with pytest.raises(TransferError):
        await sim.transfer(pid, "+15550000000")
    await sim.wait(pid)
    assert peer.transferred_to == TRANSFER_TO
