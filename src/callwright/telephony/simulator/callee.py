"""The simulated callee: a Media Streams client that behaves like Twilio plus a person.

It connects to the server's stream endpoint, sends ``connected`` and ``start``, then one 20 ms
μ-law frame every 20 ms of wall-clock time (silence, or its own speech). The agent's audio is
"played" at the same pace from a playout buffer, and marks are echoed when playout reaches
them, or all at once on ``clear``: exactly what Twilio does, so the server's notion of "what
the callee heard" is exercised for real.

Turn-taking follows the server's mark names (docs/simulator.md): a played ``listen:<node>``
mark means the agent now waits for an answer, so after a short human pause the callee keys in
digits or speaks its next scripted line. Any other mark (``say:<n>``) is just echoed.

The callee also listens for keys the agent presses as in-band DTMF tones (the agent cannot send
Media Streams ``dtmf`` messages): a phone-menu callee answers the digits collected once the
agent has stopped keying for about a second.

A line may hold pauses (``<pause 900ms>``), sent as that much silence inside the line, and a
callee with ``backchannels`` says one ("uh-huh") about a second into each stretch of agent
speech, without taking the turn: both are there so tests can check the server's turn-taking.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import uuid
from collections import deque
from collections.abc import Coroutine
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI

from callwright.telephony.base import DialRequest, TransferError
from callwright.telephony.media_stream import (
    FRAME_BYTES,
    FRAME_MS,
    Clear,
    PlayMark,
    PlayMedia,
    ProtocolError,
    encode_connected,
    encode_dtmf,
    encode_inbound_media,
    encode_mark_echo,
    encode_start,
    encode_stop,
    inbound_media_suffix,
    parse_outbound,
)
from callwright.telephony.simulator.behavior import DEFAULT_LINE, INVALID_OPTION, SimulatedCallee, split_pauses
from callwright.telephony.simulator.call_log import HeardDigit, SentDigit, SpokenLine, TurnTiming
from callwright.telephony.simulator.callee_audio import (
    PreparedLine,
    beep_frames,
    last_voiced_frame,
    speech_frames,
    ulaw_to_pcm16k,
)
from callwright.telephony.simulator.dtmf_detect import DtmfDetector
from callwright.voice.tts.base import Synthesizer

LISTEN_PREFIX = "listen:"
SAY_PREFIX = "say:"
SILENCE_FRAME = b"\xff" * FRAME_BYTES
_SILENCE_B64 = base64.b64encode(SILENCE_FRAME).decode("ascii")
SIM_ACCOUNT_SID = "AC" + "0" * 32
VOICEMAIL_GREETING = (
    "Hi, you've reached the voicemail of Sam Taylor. I can't take your call right now. "
    "Please leave a message after the tone."
)
_FRAME_S = FRAME_MS / 1000
_BARGE_IN_GAP_TICKS = 3  # a shorter gap in agent audio is jitter, not the end of its speech


class StreamConnectError(Exception):
    """The WebSocket to the server never opened (refused, bad handshake, timeout)."""


class CalleePeer:
    """One simulated phone call's far end, from WebSocket connect to hang-up.

    The public lists are the call's log, for tests and benchmarks: what the callee heard
    (``heard_audio``, ``digits_heard``), which marks it echoed, what it said and keyed, how
    often it was cleared, and where a transfer sent the call (``transferred_to``).
    """

    def __init__(
        self,
        request: DialRequest,
        callee: SimulatedCallee,
        synthesizer: Synthesizer,
        *,
        call_sid: str | None = None,
        account_sid: str = SIM_ACCOUNT_SID,
        max_call_s: float = 600.0,
        voicemail_max_message_s: float = 120.0,
        turn_pause_s: float = 0.3,
        digit_gap_s: float = 0.15,
        barge_in_after_s: float = 0.8,
        backchannel_after_s: float = 1.0,
        connect_timeout_s: float = 10.0,
        menu_timeout_s: float = 1.0,
    ) -> None:
        self.request = request
        self.callee = callee
        self.synthesizer = synthesizer
        self.stream_sid = "MZ" + uuid.uuid4().hex
        self.call_sid = call_sid or "CA" + uuid.uuid4().hex
        self.account_sid = account_sid
        self.max_call_s = max_call_s
        self.voicemail_max_message_s = voicemail_max_message_s
        self.turn_pause_s = turn_pause_s
        self.digit_gap_s = digit_gap_s
        self.barge_in_ticks = round(barge_in_after_s / _FRAME_S)
        self.backchannel_ticks = max(1, round(backchannel_after_s / _FRAME_S))
        self.connect_timeout_s = connect_timeout_s
        self.menu_timeout_ticks = max(1, round(menu_timeout_s / _FRAME_S))

        # The call's log.
        self.heard_ulaw = bytearray()
        self.voicemail_ulaw = bytearray()
        self.marks_played: list[str] = []
        self.marks_cleared: list[str] = []
        self.lines_spoken: list[SpokenLine] = []
        self.dtmf_sent: list[SentDigit] = []
        self.digits_heard: list[HeardDigit] = []
        self.cleared = 0
        self.protocol_errors: list[str] = []
        self.frames_sent = 0
        self.ticks_skipped = 0  # 20 ms ticks missed because the loop was late (never made up in a burst)
        self.playout_underruns = 0  # ticks where agent audio ran dry in the middle of a sentence
        self.turn_timings: list[TurnTiming] = []
        self.ended_by: str | None = None  # "carrier", "server", "callee", "timeout" or "transfer"
        self.transferred_to: str | None = None
        self.started = asyncio.Event()  # set once ``start`` went out

        self._ws: ClientConnection | None = None
        self._seq = 0
        self._t0 = 0.0
        self._speech: deque[bytes] = deque()
        self._speech_popped = 0  # speech frames sent so far
        self._speech_marks: deque[tuple[int, TurnTiming]] = deque()  # (_speech_popped at last voiced frame, turn)
        self._awaiting_reply: TurnTiming | None = None
        self._mid_sentence = False  # agent audio has played since the last mark
        self._prepared: dict[str, asyncio.Task[PreparedLine]] = {}
        self._playout: deque[bytes | str] = deque()  # μ-law chunks and mark names, in order
        self._offset = 0  # bytes of _playout[0] already played
        self._agent_run_ticks = 0
        self._agent_gap_ticks = 0
        self._answer_turns = 0
        self._lines_used = 0
        self._barged_in = False
        self._backchannels_used = 0
        self._last_played_mark = ""
        self._speaking = 0  # turns in progress (pause, synthesis or digits)
        self._speak_lock = asyncio.Lock()
        self._recording_from_chunk: int | None = None
        self._hangup = asyncio.Event()
        self._hangup_reason = "carrier"
        self._tasks: set[asyncio.Task[None]] = set()
        self._dtmf = DtmfDetector()
        self._keyed = ""  # digits heard since the phone menu last answered
        self._ticks_since_key = 0

    # --- the public face ------------------------------------------------------------------

    @property
    def heard_audio(self) -> bytes:
        """Agent audio the callee played out, as PCM16 mono 16 kHz."""
        return ulaw_to_pcm16k(bytes(self.heard_ulaw))

    @property
    def voicemail_message(self) -> bytes:
        """Agent audio played after the voicemail beep (PCM16 16 kHz): the message left."""
        return ulaw_to_pcm16k(bytes(self.voicemail_ulaw))

    @property
    def ending(self) -> bool:
        """The call has been hung up (or is hanging up), by anyone."""
        return self._hangup.is_set() or self.ended_by is not None

    def hang_up(self, reason: str = "carrier") -> None:
        """End the call from the phone side: ``stop`` then close. Safe to call any time."""
        if not self._hangup.is_set():
            self._hangup_reason = reason
            self._hangup.set()

    def transfer(self, to: str) -> None:
        """Cold transfer: the call goes to ``to`` and this leg (the AI's stream) ends with ``stop``.

        Raises ``TransferError`` when the call is already ending: there is nothing left to move.
        """
        if self.ending:
            raise TransferError(f"call {self.call_sid} has already ended")
        self.transferred_to = to
        self.hang_up("transfer")

    async def run(self) -> None:
        """Connect, talk until someone hangs up, then return. Raises ``StreamConnectError``."""
        try:
            ws = await connect(
                self.request.stream_url,
                open_timeout=self.connect_timeout_s,
                compression=None,
                proxy=None,
                ping_interval=None,
                max_size=2**20,
            )
        except (OSError, TimeoutError, InvalidHandshake, InvalidURI) as exc:
            raise StreamConnectError(f"{type(exc).__name__}: {exc}") from exc
        self._ws = ws
        try:
            await self._talk(ws)
        finally:
            pending = [*self._tasks, *self._prepared.values()]
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
            await ws.close()

    # --- the call ---------------------------------------------------------------------------

    def _now(self) -> float:
        return asyncio.get_running_loop().time() - self._t0

    def _next_seq(self) -> int:
        self._seq += 1
        return self._seq

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _talk(self, ws: ClientConnection) -> None:
        self._t0 = asyncio.get_running_loop().time()
        await ws.send(encode_connected())
        await ws.send(
            encode_start(
                self.stream_sid,
                self.account_sid,
                self.call_sid,
                dict(self.request.stream_parameters),
                sequence_number=self._next_seq(),
            )
        )
        self.started.set()
        self._prepare_lines()
        if self.callee.behavior == "voicemail":
            self._spawn(self._play_greeting())
        elif self.callee.greeting and not self.callee.silent:
            self._speaking += 1
            self._spawn(self._say(self.callee.greeting, "greeting"))
        receiver: asyncio.Task[Any] = asyncio.create_task(self._receive(ws))
        pacer: asyncio.Task[Any] = asyncio.create_task(self._pace(ws))
        hangup: asyncio.Task[Any] = asyncio.create_task(self._hangup.wait())
        done: set[asyncio.Task[Any]] = set()
        try:
            done, _ = await asyncio.wait(
                {receiver, pacer, hangup}, timeout=self.max_call_s, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            for task in (receiver, pacer, hangup):
                task.cancel()
            await asyncio.gather(receiver, pacer, hangup, return_exceptions=True)
        if hangup in done or not done:
            self.ended_by = self._hangup_reason if done else "timeout"
            with contextlib.suppress(ConnectionClosed):
                await ws.send(encode_stop(self.stream_sid, self._next_seq(), self.account_sid, self.call_sid))
        else:
            self.ended_by = "server"
        for task in done:
            exc = task.exception()
            if exc is not None and not isinstance(exc, ConnectionClosed):
                raise exc

    async def _pace(self, ws: ClientConnection) -> None:
        """Send one frame per 20 ms tick of a monotonic schedule, like a phone line.

        A late tick sends its frame late; ticks the loop missed entirely are skipped (counted in
        ``ticks_skipped``), never caught up in a burst. A burst would deliver, say, 500 ms of
        audio in 70 ms of wall time, and the server's wall-clock endpointing and latency figures
        would then be fiction.
        """
        loop = asyncio.get_running_loop()
        tick = loop.time()
        chunk = 0
        suffix = inbound_media_suffix(self.stream_sid)
        while True:
            chunk += 1
            frame = SILENCE_FRAME
            if self._speech:
                frame = self._speech.popleft()
                self._speech_popped += 1
            self.frames_sent = chunk
            if self._recording_from_chunk is None or chunk <= self._recording_from_chunk:
                pass
            elif self.voicemail_max_message_s and (chunk - self._recording_from_chunk) * _FRAME_S > (
                self.voicemail_max_message_s
            ):
                self.hang_up("callee")
            await ws.send(
                encode_inbound_media(
                    self.stream_sid,
                    self._next_seq(),
                    chunk,
                    (chunk - 1) * FRAME_MS,
                    frame,
                    _SILENCE_B64 if frame is SILENCE_FRAME else None,
                    suffix,
                )
            )
            marks_due = self._speech_marks
            while marks_due and marks_due[0][0] <= self._speech_popped:
                _, timing = marks_due.popleft()
                timing.last_sent_s = self._now()
                self._awaiting_reply = timing
            recording = self._recording_from_chunk is not None and chunk > self._recording_from_chunk
            played, marks = self._play_frame(recording)
            if played:
                self._mid_sentence = True
            elif self._mid_sentence and not marks:
                self.playout_underruns += 1
            for name in marks:
                self._mid_sentence = False
                await self._echo(ws, name, played=True)
            self._track_agent_speech(played)
            tick += _FRAME_S
            now = loop.time()
            if now >= tick + _FRAME_S:  # a whole tick was missed: skip it rather than burst
                missed = int((now - tick) // _FRAME_S)
                self.ticks_skipped += missed
                tick += missed * _FRAME_S
            await asyncio.sleep(max(tick - now, 0.0))

    def _play_frame(self, recording: bool) -> tuple[int, list[str]]:
        """Play up to 20 ms of agent audio; return bytes played and marks reached."""
        need = FRAME_BYTES
        marks: list[str] = []
        heard: list[bytes] = []
        playout = self._playout
        while playout:
            head = playout[0]
            if isinstance(head, str):
                playout.popleft()
                marks.append(head)
                continue
            if need == 0:
                break
            take = min(need, len(head) - self._offset)
            piece = head[self._offset : self._offset + take]
            self.heard_ulaw += piece
            heard.append(piece)
            if recording:
                self.voicemail_ulaw += piece
            need -= take
            self._offset += take
            if self._offset == len(head):
                playout.popleft()
                self._offset = 0
        # The line carries silence where the agent sends nothing: the detector hears that too,
        # so a last key is released even when no audio follows it.
        heard.append(SILENCE_FRAME[:need])
        self._listen_for_keys(b"".join(heard))
        return FRAME_BYTES - need, marks

    async def _receive(self, ws: ClientConnection) -> None:
        async for raw in ws:
            try:
                msg = parse_outbound(raw)
            except ProtocolError as exc:
                self.protocol_errors.append(str(exc))
                continue
            if msg.stream_sid != self.stream_sid:
                self.protocol_errors.append(f"{type(msg).__name__}: wrong streamSid {msg.stream_sid!r}")
                continue
            if isinstance(msg, PlayMedia):
                if msg.payload:
                    self._playout.append(msg.payload)
                    awaiting = self._awaiting_reply
                    if awaiting is not None:
                        awaiting.reply_s = self._now()
                        self._awaiting_reply = None
            elif isinstance(msg, PlayMark):
                if self._playout:
                    self._playout.append(msg.name)
                else:  # nothing left to play: Twilio answers at once
                    await self._echo(ws, msg.name, played=True)
            elif isinstance(msg, Clear):
                self.cleared += 1
                pending = [item for item in self._playout if isinstance(item, str)]
                self._playout.clear()
                self._offset = 0
                self._mid_sentence = False
                for name in pending:
                    await self._echo(ws, name, played=False)

    async def _echo(self, ws: ClientConnection, name: str, *, played: bool) -> None:
        await ws.send(encode_mark_echo(self.stream_sid, self._next_seq(), name))
        if not played:  # cleared before it was heard: no turn is taken on it
            self.marks_cleared.append(name)
            return
        self.marks_played.append(name)
        self._last_played_mark = name
        self._agent_run_ticks = 0  # a sentence ended: the next one must run long on its own
        if name.startswith(LISTEN_PREFIX) and self.callee.behavior != "voicemail":
            turn = self._answer_turns
            self._answer_turns += 1
            self._speaking += 1
            self._spawn(self._take_turn(name, name[len(LISTEN_PREFIX) :], turn))

    # --- the callee's side of the conversation ----------------------------------------------

    async def _take_turn(self, trigger: str, node: str, turn: int) -> None:
        try:
            await asyncio.sleep(self.turn_pause_s)
            digits = self.callee.digits_for_turn(node, turn)
            if digits:
                await self._key_in(digits, trigger)
                return
            if self.callee.silent:
                return
            line = self.callee.line_for_turn(self._lines_used)
            if line is not None:
                self._lines_used += 1
                await self._speak(line, trigger)
        finally:
            self._speaking -= 1

    async def _key_in(self, digits: str, trigger: str) -> None:
        ws = self._ws
        assert ws is not None
        timing = TurnTiming("dtmf", digits, trigger)
        self.turn_timings.append(timing)
        for i, digit in enumerate(digits):
            if i:
                await asyncio.sleep(self.digit_gap_s)
            await ws.send(encode_dtmf(self.stream_sid, self._next_seq(), digit))
            self.dtmf_sent.append(SentDigit(digit, self._now(), trigger))
        timing.last_sent_s = self._now()
        self._awaiting_reply = timing

    def _listen_for_keys(self, frame: bytes) -> None:
        """Log the agent's key presses; a phone menu answers once keying pauses for ~1 s."""
        keys = self._dtmf.feed(frame)
        now = self._now() if keys else 0.0
        for key in keys:
            self.digits_heard.append(HeardDigit(key, now))
        if keys:
            self._keyed += "".join(keys)
            self._ticks_since_key = 0
            return
        if not self._keyed:
            return
        self._ticks_since_key += 1
        if self._ticks_since_key < self.menu_timeout_ticks:
            return
        keyed, self._keyed = self._keyed, ""
        menu = self.callee.menu
        if not menu or self.callee.silent or self.callee.behavior == "voicemail":
            return
        self._speaking += 1
        self._spawn(self._say(menu.get(keyed, INVALID_OPTION), f"digits:{keyed}"))

    async def _say(self, line: str, trigger: str) -> None:
        """Speak outside a ``listen:`` turn (a greeting, a menu's answer)."""
        try:
            await self._speak(line, trigger)
        finally:
            self._speaking -= 1

    def _voicemail_greeting(self) -> str:
        return self.callee.greeting or (self.callee.says[0] if self.callee.says else VOICEMAIL_GREETING)

    def _prepare_lines(self) -> None:
        """Synthesize every line the callee may say, in the background, as the call starts."""
        callee = self.callee
        if callee.behavior == "voicemail":
            lines = [self._voicemail_greeting()]
        elif callee.silent:
            lines = []
        else:
            lines = list(callee.says) or ([] if callee.menu else [DEFAULT_LINE])
            if callee.greeting:
                lines.insert(0, callee.greeting)
            if callee.menu:
                lines += [*callee.menu.values(), INVALID_OPTION]
            lines += callee.backchannels
        for text in lines:
            self._prepared_line(text)

    def _prepared_line(self, text: str) -> asyncio.Task[PreparedLine]:
        task = self._prepared.get(text)
        if task is None:
            task = self._prepared[text] = asyncio.create_task(self._synthesize(text))
        return task

    async def _synthesize(self, text: str) -> PreparedLine:
        """The line's frames: each spoken piece synthesized, each ``<pause>`` as silent frames."""
        frames: list[bytes] = []
        for part in split_pauses(text):
            if isinstance(part, float):
                frames.extend([SILENCE_FRAME] * round(part / _FRAME_S))
                continue
            async for chunk in speech_frames(self.synthesizer, part):
                frames.extend(chunk)
        return PreparedLine(frames, last_voiced_frame(frames))

    async def _speak(self, text: str, trigger: str) -> None:
        """Queue a line's frames (synthesized ahead, at call start); the pacer sends them."""
        async with self._speak_lock:
            line = await self._prepared_line(text)
            self.lines_spoken.append(SpokenLine(text, self._now(), trigger))
            if trigger == "backchannel":  # not a turn: the agent's reply is not timed from it
                self._speech.extend(line.frames)
                return
            timing = TurnTiming("speech", text, trigger)
            self.turn_timings.append(timing)
            if line.last_voiced >= 0:
                at = self._speech_popped + len(self._speech) + line.last_voiced + 1
                self._speech_marks.append((at, timing))
            self._speech.extend(line.frames)

    def _track_agent_speech(self, played: int) -> None:
        """Barge in once, when the agent has talked ~800 ms straight in the middle of a ``say``.

        The server names a sentence's mark only after its last frame, so "a say" means: not
        the agent's reply right after the callee answered (the last played mark is a
        ``listen:``), and not a sentence already known to end in a ``listen:`` mark.
        """
        if played:
            self._agent_run_ticks += 1
            self._agent_gap_ticks = 0
        else:
            self._agent_gap_ticks += 1
            if self._agent_gap_ticks >= _BARGE_IN_GAP_TICKS:
                self._agent_run_ticks = 0
        if played and self._agent_run_ticks == self.backchannel_ticks:
            self._backchannel()
        if (
            not self.callee.interrupts
            or self._barged_in
            or self.callee.behavior == "voicemail"
            or self._agent_run_ticks < self.barge_in_ticks
            or self._speaking
            or self._speech
            or self._last_played_mark.startswith(LISTEN_PREFIX)
            or self._next_mark_is_listen()
        ):
            return
        self._barged_in = True
        line = self.callee.line_for_turn(self._lines_used)
        if line is not None and not self.callee.silent:
            self._lines_used += 1
            self._speaking += 1
            self._spawn(self._say(line, "barge_in"))

    def _backchannel(self) -> None:
        """Say the next backchannel over the agent, once per stretch of its speech, unless the
        callee is already talking or about to (its turn's pause, a queued line)."""
        callee = self.callee
        if callee.silent or callee.behavior == "voicemail" or self._speaking or self._speech:
            return
        line = callee.backchannel(self._backchannels_used)
        if line is None:
            return
        self._backchannels_used += 1
        self._speaking += 1
        self._spawn(self._say(line, "backchannel"))

    def _next_mark_is_listen(self) -> bool:
        for item in self._playout:
            if isinstance(item, str):
                return item.startswith(LISTEN_PREFIX)
        return False

    async def _play_greeting(self) -> None:
        """Voicemail: greeting, beep, then record whatever the agent says."""
        await self._speak(self._voicemail_greeting(), "greeting")
        self._speech.extend(beep_frames())
        self._recording_from_chunk = self.frames_sent + len(self._speech)
