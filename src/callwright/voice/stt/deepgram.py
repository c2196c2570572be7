"""Deepgram live streaming speech-to-text over its WebSocket (``/v1/listen``).

One connection per utterance: it opens when the utterance is created, in a background task, so
``push`` never waits on the network (audio pushed before the connection is up is queued and
sent as soon as it is). The protocol (``wss://api.deepgram.com/v1/listen``):

- the key goes in the handshake's ``Authorization: Token <key>`` header; the audio format and
  the options in the query string: ``encoding=linear16&sample_rate=16000&channels=1&model=nova-2
  &language=en-US&interim_results=true``, plus ``keywords`` (nova-2 and older) or ``keyterm``
  (nova-3) once per choice the dialogue expects, to bias recognition towards them;
- the client sends the audio as binary frames (raw PCM16 little-endian mono), and at the end of
  the utterance the text message ``{"type": "CloseStream"}``;
- the server sends ``{"type": "Results", "is_final": ..., "speech_final": ...,
  "channel": {"alternatives": [{"transcript": ..., "confidence": ...}]}}``: interim results
  (``is_final`` false) revise the segment being spoken, final ones fix it and the next segment
  starts. After ``CloseStream`` it finalises what it holds, sends ``{"type": "Metadata", ...}``
  and closes the connection normally.

``partial()`` is the final segments so far and the current interim one, joined (None before
the first result, so that a barge-in is not judged on words Deepgram has not had time to send,
and after a failure). ``finish()``
sends ``CloseStream`` and waits, at most ``timeout_s``, for the server to finish; its text is the
final segments joined, its confidence their mean.

Every failure becomes one :class:`TranscriberError`, raised by ``finish()`` (never by ``push``):
the connection refused or rejected (401/403 are not retryable), no end of the results within
``timeout_s`` of ``finish``, a frame that is not a JSON object, an ``Error`` message, or the
connection closed before the utterance was finished.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import deque
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlencode

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus, InvalidURI

from callwright.domain.expectation import Expectation
from callwright.voice.stt.base import TranscriberError, Transcript

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "wss://api.deepgram.com"
DEFAULT_MODEL = "nova-2"
_RATES = (8000, 16000)
MAX_KEYWORDS = 100  # Deepgram's limit on keyterms per request
_NOT_RETRYABLE_HTTP = {400, 401, 402, 403, 404}
_NOT_RETRYABLE_CLOSE = {1002, 1003, 1007, 1008, 1009}  # protocol, data, policy: the same audio fails again
_MAX_FRAME_BYTES = 16000  # audio queued while connecting goes in frames of up to 0.5 s at 16 kHz
_CLOSE_STREAM = json.dumps({"type": "CloseStream"})


class DeepgramTranscriber:
    """Deepgram streaming recognition, one WebSocket per utterance; see the module notes.

    ``timeout_s`` bounds opening the connection and the wait for the final results after
    ``finish``. ``sample_rate`` is what the engine pushes: 16000 (wideband, the engine's own
    rate) or 8000 (the phone line's; no upsampling before the network). ``hints`` (the agent's
    vocabulary: names, products) are sent as keywords with every utterance.
    """

    def __init__(
        self,
        api_key: str,
        base_url: str = DEFAULT_BASE_URL,
        model: str = DEFAULT_MODEL,
        language: str = "en-US",
        sample_rate: int = 16000,
        timeout_s: float = 3.0,
        hints: Sequence[str] = (),
    ) -> None:
        if not api_key:
            raise ValueError("a Deepgram API key is required")
        if sample_rate not in _RATES:
            raise ValueError("sample_rate must be 8000 or 16000")
        if timeout_s <= 0:
            raise ValueError("timeout_s must be positive")
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.language = language
        self.timeout_s = timeout_s
        self._rate = sample_rate
        self._api_key = api_key
        self.hints = tuple(h.strip() for h in hints if h.strip())

    def __repr__(self) -> str:  # never the key
        return f"DeepgramTranscriber(base_url={self.base_url!r}, model={self.model!r}, language={self.language!r})"

    @property
    def sample_rate(self) -> int:
        return self._rate

    def url(self, expect: Expectation | None) -> str:
        """The ``/v1/listen`` URL for one utterance, with keyword hints: ``expect``'s choices, then
        the agent's ``hints`` (at most ``MAX_KEYWORDS`` in all)."""
        params: list[tuple[str, str]] = [
            ("encoding", "linear16"),
            ("sample_rate", str(self._rate)),
            ("channels", "1"),
            ("model", self.model),
            ("language", self.language),
            ("interim_results", "true"),
        ]
        hint = "keyterm" if self.model.startswith("nova-3") else "keywords"
        choices = [c.strip() for c in expect.choices if c.strip()] if expect is not None else []
        for word in list(dict.fromkeys([*choices, *self.hints]))[:MAX_KEYWORDS]:
            params.append((hint, word))
        return f"{self.base_url}/v1/listen?{urlencode(params)}"

    def utterance(self, expect: Expectation | None) -> DeepgramUtterance:
        """Start recognising an utterance; must be called on the event loop that will finish it."""
        return DeepgramUtterance(self.url(expect), self._api_key, self.timeout_s)


class DeepgramUtterance:
    """One utterance on its own connection, opened in the background; see the module notes."""

    def __init__(self, url: str, api_key: str, timeout_s: float) -> None:
        self._url = url
        self._api_key = api_key
        self._timeout_s = timeout_s
        self._outbox: deque[bytes | str] = deque()  # audio and control messages not yet sent
        self._wake = asyncio.Event()
        self._finals: list[str] = []
        self._confidences: list[float] = []
        self._interim = ""
        self._results = 0  # Results messages received
        self._error: TranscriberError | None = None
        self._ending = False  # CloseStream queued: a normal close is the end, not a failure
        self._closed = False
        self._settled = asyncio.Event()  # the outcome (results or failure) is known
        self.bytes_sent = 0
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError as exc:
            raise TranscriberError("a Deepgram utterance must be started on the event loop") from exc
        self._task: asyncio.Task[None] = loop.create_task(self._run())

    # --- the seam ------------------------------------------------------------------------------

    def push(self, pcm: bytes) -> None:
        if self._closed or self._ending or self._error is not None or not pcm:
            return  # a failed stream is reported by finish(); audio after the end is dropped
        self._outbox.append(bytes(pcm))
        self._wake.set()

    def partial(self) -> str | None:
        """The finals and the current interim, joined; None until Deepgram has sent a result, and
        after a failure: no text yet is not "no words" (the barge-in policy counts words)."""
        if not self._results or self._error is not None:
            return None
        return _join([*self._finals, self._interim])

    def request_partial(self) -> bool:
        return self._error is None  # interim results come anyway

    def pause(self) -> None:
        pass  # Deepgram decodes as the audio arrives: nothing to start early

    def resume(self) -> None:
        pass

    async def finish(self) -> Transcript:
        if self._closed:
            raise TranscriberError("utterance already finished")
        self._ending = True
        self._outbox.append(_CLOSE_STREAM)
        self._wake.set()
        try:
            await asyncio.wait_for(self._settled.wait(), self._timeout_s)
        except TimeoutError as exc:
            raise TranscriberError(
                f"Deepgram sent no final transcript within {self._timeout_s:g} s", retryable=True
            ) from exc
        finally:
            self.close()
        if self._error is not None:
            raise self._error
        text = _join(self._finals)
        if not text:
            return Transcript("")
        confidence = sum(self._confidences) / len(self._confidences) if self._confidences else None
        return Transcript(text, confidence)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if not self._settled.is_set():
            self._task.cancel()  # abandoned, or no outcome in time: the connection goes now
        # else the task is only closing the connection, gracefully, within close_timeout

    # --- the connection ------------------------------------------------------------------------

    async def _run(self) -> None:
        """Connect, stream, collect. ``_settled`` is set as soon as the outcome is known (the
        results complete, or a failure): the close handshake after it is nobody's wait."""
        try:
            try:
                ws = await self._connect()
            except TranscriberError as exc:
                self._error = exc
                return
            async with ws:
                sender = asyncio.get_running_loop().create_task(self._send(ws))
                try:
                    await self._receive(ws)
                except TranscriberError as exc:
                    self._error = exc
                finally:
                    self._settled.set()
                    sender.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await sender
        except ConnectionClosed:
            pass  # closing our side after the outcome was known
        except Exception as exc:  # a bug or an unexpected library error: still one TranscriberError
            if not self._settled.is_set():
                log.exception("the Deepgram stream failed unexpectedly")
                self._error = TranscriberError(f"Deepgram stream failed: {type(exc).__name__}: {exc}", retryable=True)
        finally:
            self._settled.set()

    async def _connect(self) -> ClientConnection:
        try:
            return await connect(
                self._url,
                additional_headers={"Authorization": f"Token {self._api_key}"},
                open_timeout=self._timeout_s,
                close_timeout=min(1.0, self._timeout_s),
                max_size=2**20,
            )
        except InvalidStatus as exc:
            status = exc.response.status_code
            detail = exc.response.headers.get("dg-error") or exc.response.body[:200].decode("utf-8", "replace")
            raise TranscriberError(
                f"Deepgram refused the connection: HTTP {status} {detail}".rstrip(),
                retryable=status not in _NOT_RETRYABLE_HTTP,
            ) from exc
        except InvalidURI as exc:
            raise TranscriberError(f"Deepgram URL is not valid: {exc}", retryable=False) from exc
        except (OSError, InvalidHandshake, TimeoutError) as exc:
            raise TranscriberError(
                f"Deepgram could not be reached: {type(exc).__name__}: {exc}", retryable=True
            ) from exc

    async def _send(self, ws: ClientConnection) -> None:
        """Send queued audio (what queued up while connecting goes as one frame) and CloseStream."""
        try:
            while True:
                await self._wake.wait()
                self._wake.clear()
                while self._outbox:
                    item = self._outbox.popleft()
                    if isinstance(item, str):
                        await ws.send(item)
                        if item == _CLOSE_STREAM:
                            return
                        continue
                    chunk = bytearray(item)
                    while self._outbox and isinstance(self._outbox[0], bytes) and len(chunk) < _MAX_FRAME_BYTES:
                        chunk += self._outbox.popleft()  # type: ignore[arg-type]  # bytes: checked above
                    await ws.send(bytes(chunk))
                    self.bytes_sent += len(chunk)
        except ConnectionClosed:
            return  # the receiver reports why

    async def _receive(self, ws: ClientConnection) -> None:
        """Collect results until the server has finished (Metadata after CloseStream, or a close)."""
        while True:
            try:
                frame = await ws.recv()
            except ConnectionClosed as exc:
                close = exc.rcvd
                code = close.code if close is not None else 1006
                if self._ending and code in (1000, 1001):
                    return
                reason = f" ({close.reason})" if close is not None and close.reason else ""
                raise TranscriberError(
                    f"Deepgram closed the connection mid-utterance: code {code}{reason}",
                    retryable=code not in _NOT_RETRYABLE_CLOSE,
                ) from exc
            message = _parse(frame)
            kind = message.get("type")
            if kind == "Results":
                self._result(message)
            elif kind == "Metadata" and self._ending:
                return
            elif kind == "Error":
                detail = message.get("description") or message.get("message") or message.get("err_msg") or "error"
                raise TranscriberError(f"Deepgram error: {detail}", retryable=False)
            # SpeechStarted, UtteranceEnd and any newer message types carry nothing needed here.

    def _result(self, message: Mapping[str, Any]) -> None:
        channel = message.get("channel")
        alternatives = channel.get("alternatives") if isinstance(channel, Mapping) else None
        best = alternatives[0] if isinstance(alternatives, list) and alternatives else None
        if not isinstance(best, Mapping) or not isinstance(best.get("transcript", ""), str):
            raise TranscriberError("Deepgram sent Results without a transcript", retryable=False)
        text = str(best.get("transcript") or "").strip()
        self._results += 1
        if not message.get("is_final"):
            self._interim = text
            return
        self._interim = ""
        if text:
            self._finals.append(text)
            confidence = best.get("confidence")
            if isinstance(confidence, int | float) and not isinstance(confidence, bool):
                self._confidences.append(float(confidence))


def _parse(frame: str | bytes) -> dict[str, Any]:
    if isinstance(frame, bytes):
        raise TranscriberError("Deepgram sent a binary frame where JSON was expected", retryable=False)
    try:
        message = json.loads(frame)
    except ValueError as exc:
        raise TranscriberError(f"Deepgram sent a frame that is not JSON: {frame[:80]!r}", retryable=False) from exc
    if not isinstance(message, Mapping):
        raise TranscriberError(f"Deepgram sent JSON that is not an object: {frame[:80]!r}", retryable=False)
    return dict(message)


def _join(parts: list[str]) -> str:
    return " ".join(p for p in parts if p)
