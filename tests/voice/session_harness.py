"""A carrier and a callee in memory, for driving a ``CallSession`` through a ``QueueTransport``.

``FakeCarrier`` behaves like Twilio plus a person, in real time: one inbound 20 ms μ-law frame
every 20 ms (silence or queued caller audio), agent audio "played" at the same pace, marks
echoed when playout reaches them, ``clear`` drops the buffer and echoes pending marks.
Everything it sees is logged against its own frame clock (``tick``: 20 ms per tick).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from callwright.dialogue.base import DialogueEvent, End, UserInput
from callwright.voice.audio import CarrierEncoder, FrameSplitter, ulaw_encode
from callwright.voice.session import CallSession
from callwright.voice.session_types import SessionResult
from callwright.voice.transport import QueueTransport

RATE = 16000
SILENCE = b"\xff" * 160


def vowel(seconds: float, f0: float = 130.0, amp: float = 8000.0) -> bytes:
    """A voiced, vowel-like sound (harmonics with 1/k fall-off) that any VAD calls speech."""
    t = np.arange(round(seconds * RATE)) / RATE
    x = sum(np.sin(2 * np.pi * f0 * k * t) / k for k in range(1, int(3800 / f0)))
    y = np.asarray(x) / np.max(np.abs(x)) * amp
    return y.astype("<i2").tobytes()


def gap(seconds: float) -> bytes:
    return bytes(round(seconds * RATE) * 2)


def beep_ulaw(freq: float = 1000.0, seconds: float = 0.5) -> list[bytes]:
    t = np.arange(round(seconds * 8000)) / 8000
    pcm = (np.sin(2 * np.pi * freq * t) * 16000).astype("<i2").tobytes()
    return FrameSplitter(160, pad=0xFF).push(ulaw_encode(pcm))


def to_ulaw_frames(pcm16k: bytes) -> list[bytes]:
    encoder = CarrierEncoder()
    return encoder.encode(pcm16k) + encoder.flush()


@dataclass
class FakeCarrier:
    transport: QueueTransport
    on_listen: Callable[[FakeCarrier, str], None] | None = None
    on_agent_ms: tuple[int, Callable[[FakeCarrier], None]] | None = None  # after N ms of agent audio
    echo_marks: bool = True
    tick: int = 0
    speech: deque[bytes] = field(default_factory=deque)
    playout: deque[bytes | str] = field(default_factory=deque)
    heard_frames: int = 0
    heard_ticks: list[int] = field(default_factory=list)  # tick of each agent frame played
    marks_played: list[str] = field(default_factory=list)
    marks_cleared: list[str] = field(default_factory=list)
    clears: list[int] = field(default_factory=list)  # tick of each clear
    speech_ticks: list[int] = field(default_factory=list)  # tick of each caller frame sent

    def say(self, pcm16k: bytes, pause_s: float = 0.0) -> None:
        self.speech.extend([SILENCE] * round(pause_s / 0.02))
        self.speech.extend(to_ulaw_frames(pcm16k))

    def send_frames(self, frames: list[bytes]) -> None:
        self.speech.extend(frames)

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time()
        reader = asyncio.create_task(self._read())
        try:
            while True:
                self.tick += 1
                if self.speech:
                    frame = self.speech.popleft()
                    if frame != SILENCE:
                        self.speech_ticks.append(self.tick)
                else:
                    frame = SILENCE
                self.transport.push_audio(frame)
                self._play()
                deadline += 0.02
                await asyncio.sleep(max(0.0, deadline - loop.time()))
        finally:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader

    def _play(self) -> None:
        played = False
        while self.playout:
            head = self.playout[0]
            if isinstance(head, str):
                self.playout.popleft()
                self._echo(head, played=True)
                continue
            if played:
                break
            self.playout.popleft()
            played = True
            self.heard_frames += 1
            self.heard_ticks.append(self.tick)
            if self.on_agent_ms is not None and self.heard_frames * 20 >= self.on_agent_ms[0]:
                action = self.on_agent_ms[1]
                self.on_agent_ms = None
                action(self)

    def _echo(self, name: str, played: bool) -> None:
        if self.echo_marks:
            self.transport.push_mark(name)
        if not played:
            self.marks_cleared.append(name)
            return
        self.marks_played.append(name)
        if name.startswith("listen:") and self.on_listen is not None:
            self.on_listen(self, name.removeprefix("listen:"))

    async def _read(self) -> None:
        while True:
            kind, value = await self.transport.outbound.get()
            if kind == "audio":
                assert isinstance(value, bytes)
                self.playout.append(value)
            elif kind == "mark":
                assert isinstance(value, str)
                if self.playout:
                    self.playout.append(value)
                else:
                    self._echo(value, played=True)
            else:
                self.clears.append(self.tick)
                pending = [item for item in self.playout if isinstance(item, str)]
                self.playout.clear()
                for name in pending:
                    self._echo(name, played=False)


async def run_call(session: CallSession, carrier: FakeCarrier, timeout_s: float = 20.0) -> SessionResult:
    """Run the session against the carrier; the carrier stops when the session ends."""
    carrier_task = asyncio.create_task(carrier.run())
    try:
        return await asyncio.wait_for(session.run(), timeout_s)
    finally:
        carrier_task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await carrier_task


class TinyDialogue:
    """A scripted dialogue: ``turns[0]`` is the greeting, ``turns[i]`` answers the i-th input."""

    def __init__(self, *turns: list[DialogueEvent], fail_on_turn: int | None = None) -> None:
        self.turns = list(turns)
        self.inputs: list[UserInput] = []
        self.results: dict[str, Any] = {}
        self.started = 0
        self.fail_on_turn = fail_on_turn
        self.heard_turns: list[tuple[str, bool]] = []

    def heard(self, text: str, interrupted: bool) -> None:
        self.heard_turns.append((text, interrupted))

    def snapshot(self) -> dict[str, Any]:
        return {"inputs": len(self.inputs)}

    async def start(self) -> AsyncIterator[DialogueEvent]:
        self.started += 1
        for event in self.turns[0]:
            yield event

    async def respond(self, user: UserInput) -> AsyncIterator[DialogueEvent]:
        self.inputs.append(user)
        index = len(self.inputs)
        if self.fail_on_turn == index:
            raise RuntimeError("dialogue exploded")
        self.results[f"turn{index}"] = user.text or user.dtmf
        events = self.turns[index] if index < len(self.turns) else [End("completed")]
        for event in events:
            yield event
