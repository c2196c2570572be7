"""The simulated carrier against a scripted agent over a real loopback WebSocket.

The agent side here is a bare ``websockets`` server that speaks the server half of Media
Streams. Agent audio doubles as the clock: "after 0.4 s of audio" means after the callee has
played 20 frames, so no test depends on wall-clock timing.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator
from http import HTTPStatus
from typing import Any, TypeVar

import numpy as np
import pydantic
import pytest
from websockets.asyncio.server import ServerConnection, serve
from websockets.http11 import Request, Response

from callwright.telephony.base import DialRequest, StatusEvent
from callwright.telephony.media_stream import (
    Connected,
    Dtmf,
    InboundMessage,
    Mark,
    Media,
    Start,
    Stop,
    encode_clear,
    encode_mark,
    encode_media,
    parse_inbound,
)
from callwright.telephony.simulator import behavior
from callwright.telephony.simulator.behavior import SimulatedCallee, resolve_behavior
from callwright.telephony.simulator.callee import SILENCE_FRAME, CalleePeer
from callwright.telephony.simulator.callee_audio import beep_frames
from callwright.telephony.simulator.carrier import SimulatedCarrier
from callwright.voice.audio import ulaw_decode
from callwright.voice.tts.espeak import EspeakSynthesizer

M = TypeVar("M", bound=InboundMessage)
STEP = 5.0  # safety net for a hung test, never an assertion


class ToneSynthesizer:
    """Zero-compute voice: every line is 300 ms of a 300 Hz tone (PCM16 16 kHz)."""

    async def synthesize(self, text: str) -> AsyncIterator[bytes]:
        t = np.arange(4800) / 16000
        yield (np.sin(2 * math.pi * 300 * t) * 8000).astype("<i2").tobytes()


class Agent:
    """The server half of the stream, driven step by step by each test."""

    def __init__(self) -> None:
        self.inbox: asyncio.Queue[InboundMessage] = asyncio.Queue()
        self.connections = 0
        self.ws: ServerConnection | None = None
        self.stream_sid = ""
        self.closed = asyncio.Event()

    async def handler(self, ws: ServerConnection) -> None:
        self.connections += 1
        self.ws = ws
        try:
            async for raw in ws:
                msg = parse_inbound(raw)
                if isinstance(msg, Start):
                    self.stream_sid = msg.stream_sid
                self.inbox.put_nowait(msg)
        finally:
            self.closed.set()

    async def until(self, kind: type[M], name: str | None = None) -> tuple[M, list[InboundMessage]]:
        """The next message of ``kind`` (and mark ``name``), with everything skipped on the way."""
        skipped: list[InboundMessage] = []
        while True:
            msg = await asyncio.wait_for(self.inbox.get(), STEP)
            if isinstance(msg, kind) and (name is None or getattr(msg, "name", None) == name):
                return msg, skipped
            skipped.append(msg)

    async def hear_answer(self) -> list[Media]:
        """Frames of the callee's next utterance: from its first voiced frame to silence."""
        frame, _ = await self.until(Media)
        while frame.payload == SILENCE_FRAME:
            frame, _ = await self.until(Media)
        answer = []
        while frame.payload != SILENCE_FRAME:
            answer.append(frame)
            frame, _ = await self.until(Media)
        return answer

    async def send_audio(self, seconds: float, freq: float = 440.0) -> None:
        assert self.ws is not None
        for frame in beep_frames(freq, seconds):
            await self.ws.send(encode_media(self.stream_sid, frame))

    async def mark(self, name: str) -> None:
        assert self.ws is not None
        await self.ws.send(encode_mark(self.stream_sid, name))

    async def clear(self) -> None:
        assert self.ws is not None
        await self.ws.send(encode_clear(self.stream_sid))

    async def ask(self, node: str, seconds: float = 0.2) -> None:
        """A question: audio, then the listen mark that hands the turn over."""
        await self.send_audio(seconds)
        await self.mark(f"listen:{node}")


def voiced(messages: list[InboundMessage]) -> list[Media]:
    return [m for m in messages if isinstance(m, Media) and m.payload != SILENCE_FRAME]


class Statuses:
    def __init__(self) -> None:
        self.events: list[StatusEvent] = []
        self.changed = asyncio.Condition()

    async def __call__(self, event: StatusEvent) -> None:
        async with self.changed:
            self.events.append(event)
            self.changed.notify_all()

    @property
    def names(self) -> list[str]:
        return [e.status for e in self.events]

    async def wait_for(self, status: str) -> StatusEvent:
        async with self.changed:
            await asyncio.wait_for(self.changed.wait_for(lambda: status in self.names), STEP)
        return next(e for e in self.events if e.status == status)


@pytest.fixture
async def agent() -> AsyncIterator[tuple[Agent, str]]:
    side = Agent()
    async with serve(side.handler, "127.0.0.1", 0, compression=None) as server:
        port = server.sockets[0].getsockname()[1]
        yield side, f"ws://127.0.0.1:{port}/v1/stream"


@pytest.fixture
async def carrier() -> AsyncIterator[SimulatedCarrier]:
    sim = SimulatedCarrier(
        ToneSynthesizer,
        ring_ms=0,
        no_answer_after_ms=10,
        peer_options={"turn_pause_s": 0.05, "digit_gap_s": 0.01},
    )
    sim.keep_finished = True
    yield sim
    await sim.aclose()


def dial(url: str, to: str = "+15551230000", callee: dict[str, Any] | None = None) -> DialRequest:
    return DialRequest(
        call_id="call_1",
        to=to,
        from_number="+15550009999",
        stream_url=url,
        stream_parameters={"call_id": "call_1", "token": "tok"},
        simulated_callee=callee,
    )


async def connect_call(
    carrier: SimulatedCarrier, url: str, agent: Agent, **kw: Any
) -> tuple[str, Statuses, CalleePeer]:
    statuses = Statuses()
    pid = await carrier.place_call(dial(url, **kw), statuses)
    await agent.until(Start)
    peer = carrier.peer(pid)
    assert peer is not None
    return pid, statuses, peer


# --- the stream ----------------------------------------------------------------------------


async def test_start_carries_stream_parameters_and_provider_call_id(
    agent: tuple[Agent, str], carrier: SimulatedCarrier
) -> None:
    side, url = agent
    pid = await carrier.place_call(dial(url), Statuses())
    first = await asyncio.wait_for(side.inbox.get(), STEP)
    start, _ = await side.until(Start)
    assert isinstance(first, Connected)
    assert start.custom_parameters == {"call_id": "call_1", "token": "tok"}
    assert start.call_sid == pid and pid.startswith("SIM")
    assert start.stream_sid.startswith("MZ")
    assert start.media_format.encoding == "audio/x-mulaw" and start.media_format.sample_rate == 8000


async def test_frames_are_20ms_mulaw_with_consecutive_counters(
    agent: tuple[Agent, str], carrier: SimulatedCarrier
) -> None:
    side, url = agent
    await connect_call(carrier, url, side)
    frames = [(await side.until(Media))[0] for _ in range(10)]
    assert all(f.payload == SILENCE_FRAME for f in frames)
    assert [f.chunk for f in frames] == list(range(1, 11))
    assert [f.timestamp for f in frames] == [20 * i for i in range(10)]
    assert [f.sequence_number for f in frames] == list(range(2, 12))


async def test_mark_returns_only_after_its_audio_has_played(
    agent: tuple[Agent, str], carrier: SimulatedCarrier
) -> None:
    side, url = agent
    _, _, peer = await connect_call(carrier, url, side)
    await side.send_audio(0.4)
    await side.mark("say:0")
    _, skipped = await side.until(Mark, "say:0")
    assert len(peer.heard_ulaw) == 0.4 * 8000
    # The callee sends one frame per frame it plays: 20 frames of audio took >= 19 ticks.
    assert len([m for m in skipped if isinstance(m, Media)]) >= 19


async def test_marks_return_in_order(agent: tuple[Agent, str], carrier: SimulatedCarrier) -> None:
    side, url = agent
    _, _, peer = await connect_call(carrier, url, side)
    await side.send_audio(0.1)
    await side.mark("say:0")
    await side.send_audio(0.1)
    await side.mark("say:1")
    await side.mark("listen:greet")
    await side.until(Mark, "listen:greet")
    assert peer.marks_played == ["say:0", "say:1", "listen:greet"]


async def test_mark_with_nothing_buffered_returns_at_once(agent: tuple[Agent, str], carrier: SimulatedCarrier) -> None:
    side, url = agent
    _, _, peer = await connect_call(carrier, url, side)
    await side.mark("say:0")
    mark, _ = await side.until(Mark)
    assert mark.name == "say:0" and peer.heard_ulaw == b""


async def test_heard_audio_is_the_agent_audio_as_pcm16k(agent: tuple[Agent, str], carrier: SimulatedCarrier) -> None:
    side, url = agent
    _, _, peer = await connect_call(carrier, url, side)
    await side.send_audio(0.2, freq=1000)
    await side.mark("say:0")
    await side.until(Mark)
    pcm = np.frombuffer(peer.heard_audio, dtype="<i2").astype(np.float64)
    assert len(pcm) == 0.2 * 16000
    spectrum = np.abs(np.fft.rfft(pcm))
    assert round(np.argmax(spectrum) * 16000 / len(pcm)) == 1000


async def test_callee_speaks_after_listen_mark(agent: tuple[Agent, str], carrier: SimulatedCarrier) -> None:
    side, url = agent
    _, _, peer = await connect_call(carrier, url, side)
    await side.ask("greet")
    _, before = await side.until(Mark, "listen:greet")
    answer = await side.hear_answer()
    assert voiced(before) == []
    assert len(answer) >= 0.3 / 0.02 - 1
    assert [(line.text, line.trigger) for line in peer.lines_spoken] == [("yes", "listen:greet")]


async def test_default_callee_says_yes_every_turn(agent: tuple[Agent, str], carrier: SimulatedCarrier) -> None:
    side, url = agent
    _, _, peer = await connect_call(carrier, url, side)
    for node in ("a", "b", "c"):
        await side.ask(node)
        await side.until(Mark, f"listen:{node}")
        assert await side.hear_answer()
    assert [line.text for line in peer.lines_spoken] == ["yes", "yes", "yes"]


async def test_scripted_lines_run_out_into_silence(agent: tuple[Agent, str], carrier: SimulatedCarrier) -> None:
    side, url = agent
    _, _, peer = await connect_call(carrier, url, side, callee={"says": ["tuesday", "morning"]})
    for node in ("a", "b", "c"):
        await side.ask(node)
        await side.until(Mark, f"listen:{node}")
    await side.send_audio(1.0)  # long enough for a third answer, had there been one
    await side.mark("say:end")
    await side.until(Mark, "say:end")
    assert [line.text for line in peer.lines_spoken] == ["tuesday", "morning"]


async def test_dtmf_is_keyed_for_matching_node(agent: tuple[Agent, str], carrier: SimulatedCarrier) -> None:
    side, url = agent
    _, _, peer = await connect_call(carrier, url, side, callee={"dtmf": {"pin": "42#"}})
    await side.ask("pin")
    await side.until(Mark, "listen:pin")
    digits = [(await side.until(Dtmf))[0].digit for _ in range(3)]
    assert digits == ["4", "2", "#"]
    assert peer.lines_spoken == []


async def test_dtmf_is_keyed_by_answer_turn_index(agent: tuple[Agent, str], carrier: SimulatedCarrier) -> None:
    side, url = agent
    _, _, peer = await connect_call(carrier, url, side, callee={"dtmf": {"1": "7"}})
    await side.ask("")
    await side.until(Mark, "listen:")
    await side.ask("")
    digit, _ = await side.until(Dtmf)
    assert digit.digit == "7"
    assert [line.text for line in peer.lines_spoken] == ["yes"]


async def test_clear_returns_pending_marks_at_once(agent: tuple[Agent, str], carrier: SimulatedCarrier) -> None:
    side, url = agent
    _, _, peer = await connect_call(carrier, url, side)
    await side.send_audio(2.0)
    await side.mark("say:0")
    await side.send_audio(2.0)
    await side.mark("listen:q")
    await side.clear()
    first, _ = await side.until(Mark)
    second, _ = await side.until(Mark)
    assert (first.name, second.name) == ("say:0", "listen:q")
    assert peer.cleared == 1 and peer.marks_cleared == ["say:0", "listen:q"]
    assert len(peer.heard_ulaw) < 2.0 * 8000


async def test_cleared_listen_mark_does_not_start_a_turn(agent: tuple[Agent, str], carrier: SimulatedCarrier) -> None:
    side, url = agent
    _, _, peer = await connect_call(carrier, url, side)
    await side.ask("q", seconds=1.0)
    await side.clear()
    await side.until(Mark, "listen:q")
    await side.send_audio(0.6)
    await side.mark("say:after")
    await side.until(Mark, "say:after")
    assert peer.lines_spoken == []


async def test_silent_callee_never_speaks(agent: tuple[Agent, str], carrier: SimulatedCarrier) -> None:
    side, url = agent
    await connect_call(carrier, url, side, to=behavior.SILENT)
    await side.ask("greet")
    await side.send_audio(0.6)
    await side.mark("say:after")
    _, skipped = await side.until(Mark, "say:after")
    assert voiced(skipped) == []


async def test_interrupting_callee_barges_in_during_a_long_say(
    agent: tuple[Agent, str], carrier: SimulatedCarrier
) -> None:
    side, url = agent
    _, _, peer = await connect_call(carrier, url, side, to=behavior.INTERRUPTS)
    await side.send_audio(3.0)
    await side.mark("say:0")
    assert await side.hear_answer()
    await side.clear()
    await side.until(Mark, "say:0")
    assert [line.trigger for line in peer.lines_spoken] == ["barge_in"]
    assert peer.marks_cleared == ["say:0"]


async def test_interrupting_callee_waits_through_a_question(
    agent: tuple[Agent, str], carrier: SimulatedCarrier
) -> None:
    side, url = agent
    _, _, peer = await connect_call(carrier, url, side, to=behavior.INTERRUPTS)
    await side.ask("q", seconds=1.5)
    await side.until(Mark, "listen:q")
    assert peer.lines_spoken == []


async def test_interrupting_callee_lets_the_reply_to_its_answer_finish(
    agent: tuple[Agent, str], carrier: SimulatedCarrier
) -> None:
    side, url = agent
    _, _, peer = await connect_call(carrier, url, side, to=behavior.INTERRUPTS)
    await side.ask("q")
    assert await side.hear_answer()
    await side.send_audio(1.5)
    await side.mark("say:1")
    await side.until(Mark, "say:1")
    assert [line.trigger for line in peer.lines_spoken] == ["listen:q"]


async def test_voicemail_greets_beeps_and_records_the_message(
    agent: tuple[Agent, str], carrier: SimulatedCarrier
) -> None:
    side, url = agent
    _, statuses, peer = await connect_call(carrier, url, side, to=behavior.VOICEMAIL)
    heard: list[bytes] = []
    while len(heard) < 5 or any(f != SILENCE_FRAME for f in heard[-5:]):
        frame, _ = await side.until(Media)
        if heard or frame.payload != SILENCE_FRAME:
            heard.append(frame.payload)
    beep = np.frombuffer(ulaw_decode(b"".join(heard[-30:-5])), dtype="<i2").astype(np.float64)
    assert round(np.argmax(np.abs(np.fft.rfft(beep))) * 8000 / len(beep)) == 1000
    await side.send_audio(0.4)
    await side.mark("say:0")
    await side.until(Mark, "say:0")
    assert len(peer.voicemail_ulaw) == 0.4 * 8000
    assert len(peer.voicemail_message) == 0.4 * 16000 * 2
    assert peer.lines_spoken[0].trigger == "greeting"
    assert (await statuses.wait_for("answered")).answered_by == "machine_end_beep"


# --- call outcomes -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("number", "outcome"),
    [(behavior.BUSY, "busy"), (behavior.NO_ANSWER, "no_answer"), (behavior.FAIL, "failed")],
)
async def test_unanswered_outcomes_never_open_the_stream(
    agent: tuple[Agent, str], carrier: SimulatedCarrier, number: str, outcome: str
) -> None:
    side, url = agent
    statuses = Statuses()
    pid = await carrier.place_call(dial(url, to=number), statuses)
    await carrier.wait(pid)
    assert statuses.names == ["ringing", outcome]
    assert all(e.provider_call_id == pid for e in statuses.events)
    assert side.connections == 0


@pytest.mark.parametrize(
    ("number", "answered_by"),
    [
        (behavior.ANSWER, "human"),
        (behavior.VOICEMAIL, "machine_end_beep"),
        (behavior.VOICEMAIL_UNDETECTED, None),
    ],
)
async def test_answered_by_signal_per_number(
    agent: tuple[Agent, str], carrier: SimulatedCarrier, number: str, answered_by: str | None
) -> None:
    side, url = agent
    pid, statuses, _ = await connect_call(carrier, url, side, to=number)
    assert (await statuses.wait_for("answered")).answered_by == answered_by
    await carrier.hang_up(pid)


async def test_connection_refused_is_a_failed_call(carrier: SimulatedCarrier) -> None:
    async with serve(lambda ws: ws.close(), "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
    statuses = Statuses()
    pid = await carrier.place_call(dial(f"ws://127.0.0.1:{port}/"), statuses)
    await carrier.wait(pid)
    assert statuses.names == ["ringing", "answered", "failed"]
    assert statuses.events[-1].detail["reason"] == "stream_connect_failed"


async def test_rejected_handshake_is_a_failed_call(carrier: SimulatedCarrier) -> None:
    def reject(conn: ServerConnection, request: Request) -> Response:
        return conn.respond(HTTPStatus.FORBIDDEN, "bad token\n")

    async with serve(lambda ws: ws.close(), "127.0.0.1", 0, process_request=reject) as server:
        port = server.sockets[0].getsockname()[1]
        statuses = Statuses()
        pid = await carrier.place_call(dial(f"ws://127.0.0.1:{port}/"), statuses)
        await carrier.wait(pid)
    assert statuses.names[-1] == "failed"
    assert "403" in statuses.events[-1].detail["error"]


async def test_hang_up_sends_stop_then_closes(agent: tuple[Agent, str], carrier: SimulatedCarrier) -> None:
    side, url = agent
    pid, statuses, _ = await connect_call(carrier, url, side)
    await carrier.hang_up(pid)
    stop, _ = await side.until(Stop)
    await asyncio.wait_for(side.closed.wait(), STEP)
    assert stop.call_sid == pid
    assert statuses.names == ["ringing", "answered", "completed"]
    assert statuses.events[-1].detail["ended_by"] == "carrier"
    assert carrier.active_calls() == []


async def test_server_closing_the_stream_completes_the_call(
    agent: tuple[Agent, str], carrier: SimulatedCarrier
) -> None:
    side, url = agent
    pid, statuses, _ = await connect_call(carrier, url, side)
    assert side.ws is not None
    await side.ws.close()
    await carrier.wait(pid)
    assert statuses.names[-1] == "completed"
    assert statuses.events[-1].detail["ended_by"] == "server"


async def test_hang_up_while_ringing_cancels(agent: tuple[Agent, str]) -> None:
    _, url = agent
    sim = SimulatedCarrier(ToneSynthesizer, ring_ms=60_000)
    statuses = Statuses()
    pid = await sim.place_call(dial(url), statuses)
    await statuses.wait_for("ringing")
    await sim.hang_up(pid)
    assert statuses.names == ["ringing", "canceled"]


async def test_aclose_hangs_up_every_call(agent: tuple[Agent, str], carrier: SimulatedCarrier) -> None:
    side, url = agent
    await connect_call(carrier, url, side)
    await connect_call(carrier, url, side)
    await carrier.aclose()
    assert carrier.active_calls() == []
    assert side.connections == 2


async def test_malformed_simulated_callee_is_refused(carrier: SimulatedCarrier) -> None:
    with pytest.raises(pydantic.ValidationError):
        await carrier.place_call(dial("ws://127.0.0.1:1/", callee={"behavior": "answer", "mood": "grumpy"}), Statuses())


# --- behaviour resolution --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("number", "expected"),
    [
        ("+1 (555) 010-0002", "busy"),
        ("555-010-0003", "no_answer"),
        ("+15550100004", "fail"),
        ("+15550100005", "voicemail"),
        ("+14155550123", "answer"),
    ],
)
def test_number_picks_the_behaviour(number: str, expected: str) -> None:
    assert resolve_behavior(number, None).behavior == expected


def test_explicit_callee_beats_the_magic_number() -> None:
    assert resolve_behavior(behavior.BUSY, {"says": ["hello"]}) == SimulatedCallee(says=["hello"])


def test_dtmf_by_node_name_wins_over_turn_index() -> None:
    callee = SimulatedCallee(dtmf={"pin": "1", "0": "2"})
    assert callee.digits_for_turn("pin", 0) == "1"
    assert callee.digits_for_turn("other", 0) == "2"


async def test_callee_speaks_through_espeak(agent: tuple[Agent, str]) -> None:
    sim = SimulatedCarrier(EspeakSynthesizer, ring_ms=0, peer_options={"turn_pause_s": 0.05})
    side, url = agent
    try:
        _, _, peer = await connect_call(sim, url, side, callee={"says": ["Tuesday morning works for me."]})
        await side.ask("when")
        answer = await side.hear_answer()
    finally:
        await sim.aclose()
    assert len(answer) >= 0.3 / 0.02  # a spoken word at least, not a click
    assert [line.text for line in peer.lines_spoken] == ["Tuesday morning works for me."]
