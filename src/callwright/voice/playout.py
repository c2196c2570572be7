"""Outbound audio: sentences → TTS → μ-law frames, paced to the carrier in real time.

Pacing follows a model of the carrier's playout buffer: the carrier plays 20 ms per frame,
back to back, from the moment the first frame arrives. ``play_end`` is when it will run dry.
Each frame is due ``lead_frames`` before that (a small cushion against jitter), so deadlines
advance by exactly 20 ms per frame and never drift. A frame's *lateness* is its send time
minus the later of its deadline and the moment it was synthesized: pure scheduling delay,
kept per frame for the capacity benchmark (TTS slowness shows up in latency instead).

The same model says how much of a sentence the caller has heard when it is cut off: the
time since its first frame started playing, capped by what was sent. Sentences whose mark
the carrier echoed were heard in full.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from callwright.voice.audio import FRAME_MS, CarrierEncoder
from callwright.voice.transport import MediaTransport
from callwright.voice.tts.base import Synthesizer

SAY_PREFIX = "say:"
FRAME_S = FRAME_MS / 1000


@dataclass(eq=False)
class Sentence:
    """One sentence on its way to the caller, with what is known about its playback."""

    text: str
    number: int
    mark: str | None = None  # the mark sent after it; decided when its last frame goes out
    frames: list[bytes] = field(default_factory=list)
    ready_at: list[float] = field(default_factory=list)  # when each frame was synthesized
    synthesized: bool = False
    sent: int = 0  # frames sent
    play_start: float | None = None  # when the carrier starts playing it (estimated)
    stream_start_ms: float | None = None  # the same on the stream clock, if the owner sets it
    confirmed: bool = False  # the carrier echoed its mark (or a later one)
    tts_start: float | None = None
    tts_first_byte: float | None = None
    first_sent_at: float | None = None
    error: str | None = None
    _changed: asyncio.Event = field(default_factory=asyncio.Event, repr=False)

    @property
    def done_sending(self) -> bool:
        return self.synthesized and self.sent >= len(self.frames)

    def heard_ms(self, now: float) -> float:
        """Milliseconds of this sentence the caller has heard by ``now``."""
        if self.confirmed:
            return len(self.frames) * FRAME_MS
        if self.play_start is None:
            return 0.0
        return max(0.0, min((now - self.play_start) * 1000, self.sent * FRAME_MS))

    def heard_text(self, now: float) -> str:
        """The words heard by ``now``: all of it if confirmed, else a proportional cut."""
        if self.confirmed:
            return self.text
        total = len(self.frames) * FRAME_MS
        if total <= 0:
            return ""
        return cut_text(self.text, self.heard_ms(now) / total)


@dataclass(frozen=True, eq=False)
class _MarkOnly:
    name: str


_Item = Sentence | _MarkOnly
FrameHook = Callable[[Sentence, bytes, float], None]
"""Called for each frame sent: the sentence, the μ-law frame and its estimated play time."""


class Playout:
    """Speaks sentences on one carrier stream; one instance per call.

    ``speak`` queues a sentence (synthesis starts at once for the next couple of sentences);
    ``end_turn`` names the mark that follows the last queued sentence (``listen:<node>``);
    ``cancel`` stops mid-frame, sends ``clear`` and returns what was cut; ``on_mark`` takes
    the carrier's echoes. Sending errors surface through ``task``.
    """

    def __init__(
        self,
        transport: MediaTransport,
        synthesizer: Synthesizer,
        *,
        clock: Callable[[], float] = time.monotonic,
        lead_frames: int = 2,
        prefetch: int = 2,
        on_frame: FrameHook | None = None,
    ) -> None:
        self._transport = transport
        self._synth = synthesizer
        self._clock = clock
        self._lead_s = lead_frames * FRAME_S
        self._prefetch = prefetch
        self._on_frame = on_frame
        self._items: list[_Item] = []  # queued or unconfirmed, in order
        self._cursor = 0  # index in _items of the next item to send
        self._wake = asyncio.Event()
        self._producers: dict[Sentence, asyncio.Task[None]] = {}
        self._numbers = 0
        self.play_end = 0.0
        self.lateness_ms: list[float] = []
        self.task: asyncio.Task[None] | None = None
        self._settled = asyncio.Event()
        self._settled.set()

    # --- control ---------------------------------------------------------------------------

    def start(self) -> None:
        if self.task is None or self.task.done():
            self.task = asyncio.create_task(self._run(), name="playout")

    def speak(self, text: str) -> Sentence:
        self._numbers += 1
        sentence = Sentence(text=text, number=self._numbers)
        self._items.append(sentence)
        self._settled.clear()
        self._fill_prefetch()
        self._wake.set()
        return sentence

    def play(self, frames: list[bytes], text: str = "") -> Sentence:
        """Queue ready-made audio (key-press tones) in order with the speech; ``text`` is what
        the transcript shows of it (nothing, by default)."""
        self._numbers += 1
        sentence = Sentence(text=text, number=self._numbers, synthesized=True)
        self._add_frames(sentence, list(frames))
        self._items.append(sentence)
        self._settled.clear()
        self._wake.set()
        return sentence

    def end_turn(self, mark: str) -> None:
        """Follow the last queued sentence with ``mark`` (its own mark if still unsent)."""
        pending = self._items[self._cursor :]
        last = pending[-1] if pending else None
        if isinstance(last, Sentence) and last.mark is None:
            last.mark = mark
        else:
            self._items.append(_MarkOnly(mark))
            self._settled.clear()
            self._wake.set()

    @property
    def busy(self) -> bool:
        """Audio is queued, being sent, or not yet confirmed as played."""
        return not self._settled.is_set()

    def pending_sentences(self) -> list[Sentence]:
        return [item for item in self._items if isinstance(item, Sentence)]

    def on_mark(self, name: str) -> None:
        """The carrier echoed ``name``: it and everything before it has been played."""
        for i, item in enumerate(self._items[: self._cursor]):
            item_mark = item.name if isinstance(item, _MarkOnly) else item.mark
            if item_mark == name:
                for done in self._items[: i + 1]:
                    if isinstance(done, Sentence):
                        done.confirmed = True
                del self._items[: i + 1]
                self._cursor -= i + 1
                self._check_settled()
                return

    def expire(self, now: float, grace_s: float = 2.0) -> None:
        """Treat audio as played when its mark is long overdue (a carrier that drops echoes)."""
        if self._cursor and self._cursor == len(self._items) and now > self.play_end + grace_s:
            for item in self._items:
                if isinstance(item, Sentence):
                    item.confirmed = True
            self._items.clear()
            self._cursor = 0
            self._check_settled()

    async def wait_played(self, timeout_s: float | None = None) -> bool:
        """Wait until everything queued has been played; False on timeout."""
        try:
            async with asyncio.timeout(timeout_s):
                await self._settled.wait()
        except TimeoutError:
            return False
        return True

    async def cancel(self, send_clear: bool = True) -> list[Sentence]:
        """Stop speaking now. Returns the sentences not confirmed as played (heard parts are
        judged as of this moment). Sends ``clear`` so the carrier drops its buffer."""
        now = self._clock()
        cut = [item for item in self._items if isinstance(item, Sentence)]
        for sentence in cut:
            sentence.confirmed = False
        await self._stop_tasks()
        self._items.clear()
        self._cursor = 0
        if self.play_end > now:
            self.play_end = now
        # Freeze what was heard before the carrier's buffer is dropped.
        for sentence in cut:
            heard = sentence.heard_ms(now)
            sentence.sent = min(sentence.sent, int(heard // FRAME_MS) + (1 if heard % FRAME_MS else 0))
        self._settled.set()
        if send_clear:
            await self._transport.send_clear()
        self.start()
        return cut

    async def close(self) -> None:
        await self._stop_tasks()
        self._settled.set()

    async def _stop_tasks(self) -> None:
        tasks = [t for t in self._producers.values() if not t.done()]
        if self.task is not None and not self.task.done():
            tasks.append(self.task)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._producers.clear()

    def _check_settled(self) -> None:
        if not self._items:
            self._settled.set()

    # --- synthesis -------------------------------------------------------------------------

    def _fill_prefetch(self) -> None:
        started = 0
        for item in self._items[self._cursor :]:
            if not isinstance(item, Sentence) or item.synthesized:
                continue
            if item not in self._producers:
                self._producers[item] = asyncio.create_task(self._produce(item), name="tts")
            started += 1
            if started >= self._prefetch:
                return

    async def _produce(self, sentence: Sentence) -> None:
        encoder = CarrierEncoder()
        sentence.tts_start = self._clock()
        try:
            async for pcm in self._synth.synthesize(sentence.text):
                frames = encoder.encode(pcm)
                if sentence.tts_first_byte is None and frames:
                    # The first *frame* of audio: until the synthesizer has delivered 20 ms of
                    # it there is nothing to send, and that wait is the synthesizer's.
                    sentence.tts_first_byte = self._clock()
                self._add_frames(sentence, frames)
                # A synthesizer faster than real time leaves many chunks queued; converting them
                # all in one step would keep the pacer (and every other call) off the loop.
                await asyncio.sleep(0)
            self._add_frames(sentence, encoder.flush())
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a TTS failure skips the sentence, it does not end the call
            sentence.error = f"{type(exc).__name__}: {exc}"
        finally:
            sentence.synthesized = True
            sentence._changed.set()

    def _add_frames(self, sentence: Sentence, frames: list[bytes]) -> None:
        if not frames:
            return
        now = self._clock()
        sentence.frames.extend(frames)
        sentence.ready_at.extend([now] * len(frames))
        sentence._changed.set()

    # --- pacing ----------------------------------------------------------------------------

    async def _run(self) -> None:
        while True:
            while self._cursor >= len(self._items):
                self._wake.clear()
                await self._wake.wait()
            item = self._items[self._cursor]
            if isinstance(item, _MarkOnly):
                self._cursor += 1
                await self._transport.send_mark(item.name)
                continue
            self._fill_prefetch()
            await self._send_sentence(item)
            if item.mark is None:
                item.mark = f"{SAY_PREFIX}{item.number}"
            self._cursor += 1
            self._fill_prefetch()
            await self._transport.send_mark(item.mark)

    async def _send_sentence(self, sentence: Sentence) -> None:
        while True:
            if sentence.sent >= len(sentence.frames):
                if sentence.synthesized:
                    return
                sentence._changed.clear()
                await sentence._changed.wait()
                continue
            k = sentence.sent
            deadline = max(sentence.ready_at[k], self.play_end - self._lead_s)
            now = self._clock()
            if now < deadline:
                await asyncio.sleep(deadline - now)
                now = self._clock()
            self.lateness_ms.append((now - deadline) * 1000)
            frame = sentence.frames[k]
            await self._transport.send_audio(frame)
            play_at = max(now, self.play_end)
            self.play_end = play_at + FRAME_S
            if sentence.play_start is None:
                sentence.play_start = play_at
                sentence.first_sent_at = now
            sentence.sent = k + 1
            if self._on_frame is not None:
                self._on_frame(sentence, frame, play_at)


def cut_text(text: str, fraction: float) -> str:
    """The leading part of ``text`` proportional to ``fraction``, in whole words.

    A word counts as heard when its middle was reached, so a cut right after a word's first
    syllable does not claim it.
    """
    if fraction >= 1.0:
        return text
    if fraction <= 0.0:
        return ""
    limit = fraction * len(text)
    words = text.split()
    kept: list[str] = []
    pos = 0
    for word in words:
        start = text.index(word, pos)
        pos = start + len(word)
        if start + len(word) / 2 > limit:
            break
        kept.append(word)
    return " ".join(kept)
