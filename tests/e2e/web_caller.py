"""A browser caller without the browser: a Python WebSocket client that speaks the browser-call
protocol (docs/browser-calls.md) as the page's script does. It streams the microphone in real
time (20 ms of PCM16 16 kHz per message, silence when the caller is quiet), "plays" the agent's
audio on a clock and echoes each mark when the audio before it has played, and says its next
answer once a ``listen:`` mark has played (the agent then waits for an answer)."""

from __future__ import annotations

import asyncio
import json
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import websockets

from callwright.voice.tts.espeak import EspeakSynthesizer
from callwright.voice.tts.piper import PiperSynthesizer, piper_installed

FRAME_BYTES = 640  # 20 ms of PCM16 at 16 kHz
LISTEN_PREFIX = "listen:"


def speak(text: str) -> bytes:
    """The caller's words as PCM16 16 kHz: Piper when installed (a natural voice), else espeak."""
    if piper_installed():
        return PiperSynthesizer().synthesize_sync(text)
    return EspeakSynthesizer(voice="en-gb").synthesize_sync(text)


@dataclass
class CallLog:
    agent_audio_bytes: int = 0
    marks: list[str] = field(default_factory=list)
    clears: int = 0
    ended: bool = False
    close_code: int | None = None


async def call(url: str, call_id: str, token: str, answers: list[bytes], timeout_s: float = 90) -> CallLog:
    """Run one browser call to its end; ``answers`` are said in order, one per ``listen:`` mark."""
    log = CallLog()
    todo = deque(answers)
    speaking: deque[bytes] = deque()
    async with websockets.connect(url, max_size=2**20) as ws:
        await ws.send(json.dumps({"type": "start", "call_id": call_id, "token": token}))
        play_end = time.monotonic()
        marks_due: list[tuple[float, str]] = []

        async def microphone() -> None:
            next_at = time.monotonic()
            while True:
                frame = speaking.popleft() if speaking else bytes(FRAME_BYTES)
                await ws.send(frame)
                next_at += 0.02
                await asyncio.sleep(max(0.0, next_at - time.monotonic()))

        async def speaker() -> None:
            while True:
                now = time.monotonic()
                while marks_due and marks_due[0][0] <= now:
                    _, name = marks_due.pop(0)
                    log.marks.append(name)
                    await ws.send(json.dumps({"type": "mark", "name": name}))
                    if name.startswith(LISTEN_PREFIX) and todo:
                        pcm = todo.popleft() + bytes(FRAME_BYTES * 10)
                        speaking.extend(pcm[i : i + FRAME_BYTES].ljust(FRAME_BYTES, b"\0")
                                        for i in range(0, len(pcm), FRAME_BYTES))
                await asyncio.sleep(0.01)

        tasks = [asyncio.create_task(microphone()), asyncio.create_task(speaker())]
        try:
            async with asyncio.timeout(timeout_s):
                async for message in ws:
                    if isinstance(message, bytes):
                        log.agent_audio_bytes += len(message)
                        play_end = max(play_end, time.monotonic()) + len(message) / 32000
                        continue
                    data: dict[str, Any] = json.loads(message)
                    if data["type"] == "mark":
                        marks_due.append((play_end, data["name"]))
                    elif data["type"] == "clear":
                        log.clears += 1
                        play_end = time.monotonic()
                        marks_due = [(play_end, name) for _, name in marks_due]
                    elif data["type"] == "end":
                        log.ended = True
        except websockets.ConnectionClosed:
            pass
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        log.close_code = ws.close_code
    return log
