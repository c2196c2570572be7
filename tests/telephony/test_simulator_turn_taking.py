"""The simulated callee's pauses inside a line and its backchannels over the agent: what lets
tests check the server's turn-taking (a pause is not the end of a turn; an "uh-huh" is not a
barge-in).

Same harness as test_simulator.py: a bare Media Streams server plays the agent, and agent audio
doubles as the clock.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pydantic
import pytest
from tests.telephony.test_simulator import Agent, ToneSynthesizer, connect_call
from websockets.asyncio.server import serve

from callwright.telephony.media_stream import Mark, Media
from callwright.telephony.simulator.behavior import MAX_PAUSE_MS, SimulatedCallee, split_pauses
from callwright.telephony.simulator.callee import SILENCE_FRAME
from callwright.telephony.simulator.carrier import SimulatedCarrier
from callwright.voice.tts.espeak import EspeakSynthesizer

FRAME_S = 0.02


@pytest.fixture
async def side() -> AsyncIterator[tuple[Agent, str]]:
    agent = Agent()
    async with serve(agent.handler, "127.0.0.1", 0, compression=None) as server:
        port = server.sockets[0].getsockname()[1]
        yield agent, f"ws://127.0.0.1:{port}/v1/stream"


@pytest.fixture
async def sim() -> AsyncIterator[SimulatedCarrier]:
    carrier = SimulatedCarrier(ToneSynthesizer, ring_ms=0, peer_options={"turn_pause_s": 0.05})
    carrier.keep_finished = True
    yield carrier
    await carrier.aclose()


async def frames_until_quiet(agent: Agent, quiet_s: float) -> list[bytes]:
    """The callee's audio from its first voiced frame until ``quiet_s`` of silence."""
    frame, _ = await agent.until(Media)
    while frame.payload == SILENCE_FRAME:
        frame, _ = await agent.until(Media)
    frames: list[bytes] = []
    silent = 0
    while silent < quiet_s / FRAME_S:
        frames.append(frame.payload)
        silent = silent + 1 if frame.payload == SILENCE_FRAME else 0
        frame, _ = await agent.until(Media)
    return frames[: len(frames) - silent]


def longest_silence_s(frames: list[bytes]) -> float:
    longest = run = 0
    for frame in frames:
        run = run + 1 if frame == SILENCE_FRAME else 0
        longest = max(longest, run)
    return longest * FRAME_S


# --- pauses inside a line ----------------------------------------------------------------------


def test_a_pause_marker_splits_a_line_into_speech_and_silence() -> None:
    assert split_pauses("my number is 555 0123 <pause 900ms> 4567") == ["my number is 555 0123", 0.9, "4567"]
    assert split_pauses("<pause 1.5s>well, yes") == [1.5, "well, yes"]
    assert split_pauses("no pause here") == ["no pause here"]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("hold on <pause 6s> yes", "too long"),
        ("hold on <wait 1s> yes", "unknown marker"),
        ("hold on <pause 1s yes", "unclosed marker"),
        ("hold on <pause -1s> yes", "unknown marker"),
    ],
)
def test_a_malformed_or_too_long_pause_is_refused_with_the_syntax(line: str, message: str) -> None:
    with pytest.raises(pydantic.ValidationError, match=message) as raised:
        SimulatedCallee.model_validate({"says": [line]})
    assert f"at most {MAX_PAUSE_MS} ms" in str(raised.value)


def test_pauses_are_checked_in_every_spoken_field() -> None:
    for body in ({"greeting": "hi <pause 9s>"}, {"menu": {"1": "<nap>"}}, {"backchannels": ["<pause 7s>"]}):
        with pytest.raises(pydantic.ValidationError):
            SimulatedCallee.model_validate(body)


async def test_a_line_with_a_pause_holds_that_much_silence_inside_it(side: tuple[Agent, str]) -> None:
    agent, url = side
    sim = SimulatedCarrier(EspeakSynthesizer, ring_ms=0, peer_options={"turn_pause_s": 0.05})
    line = "my number is 555 0123 <pause 900ms> 4567"
    try:
        _, _, peer = await connect_call(sim, url, agent, callee={"says": [line]})
        await agent.ask("number")
        frames = await frames_until_quiet(agent, quiet_s=1.5)
    finally:
        await sim.aclose()
    assert 0.9 <= longest_silence_s(frames) <= 0.9 + 0.2  # the pause, plus espeak's 50 ms edges
    assert len(frames) * FRAME_S > 0.9 + 1.0  # speech on both sides of it
    assert [spoken.text for spoken in peer.lines_spoken] == [line]  # one line, logged as written


# --- backchannels ----------------------------------------------------------------------------


async def test_a_backchannel_is_said_while_the_agent_is_still_talking(
    side: tuple[Agent, str], sim: SimulatedCarrier
) -> None:
    agent, url = side
    _, _, peer = await connect_call(sim, url, agent, callee={"backchannels": ["uh-huh"]})
    await agent.send_audio(2.0)
    await agent.mark("say:0")
    _, before_mark = await agent.until(Mark, "say:0")
    voiced = [m for m in before_mark if isinstance(m, Media) and m.payload != SILENCE_FRAME]
    assert voiced  # the callee spoke before the agent's sentence had finished playing
    assert [(spoken.text, spoken.trigger) for spoken in peer.lines_spoken] == [("uh-huh", "backchannel")]
    assert 0.9 <= peer.lines_spoken[0].at_s <= 1.5
    assert peer.turn_timings == []  # not a turn: no response latency is measured from it


async def test_a_short_agent_sentence_gets_no_backchannel(side: tuple[Agent, str], sim: SimulatedCarrier) -> None:
    agent, url = side
    _, _, peer = await connect_call(sim, url, agent, callee={"backchannels": ["uh-huh"]})
    await agent.send_audio(0.6)
    await agent.mark("say:0")
    await agent.until(Mark, "say:0")
    assert peer.lines_spoken == []


async def test_backchannels_take_turns_once_per_long_sentence_and_leave_the_answers_alone(
    side: tuple[Agent, str], sim: SimulatedCarrier
) -> None:
    agent, url = side
    callee = {"says": ["tuesday"], "backchannels": ["uh-huh", "okay"]}
    _, _, peer = await connect_call(sim, url, agent, callee=callee)
    for n in range(2):
        await agent.send_audio(2.5)
        await agent.mark(f"say:{n}")
        await agent.until(Mark, f"say:{n}")
    await agent.ask("when")
    await agent.until(Mark, "listen:when")
    await agent.hear_answer()
    assert [(spoken.text, spoken.trigger) for spoken in peer.lines_spoken] == [
        ("uh-huh", "backchannel"),
        ("okay", "backchannel"),
        ("tuesday", "listen:when"),
    ]


async def test_a_silent_callee_never_backchannels(side: tuple[Agent, str], sim: SimulatedCarrier) -> None:
    agent, url = side
    _, _, peer = await connect_call(sim, url, agent, callee={"silent": True, "backchannels": ["uh-huh"]})
    await agent.send_audio(2.0)
    await agent.mark("say:0")
    await agent.until(Mark, "say:0")
    assert peer.lines_spoken == []
