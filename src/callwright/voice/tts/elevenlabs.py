"""ElevenLabs text-to-speech over its ``stream-input`` WebSocket: PCM16 mono 16 kHz out.

One connection per sentence, which keeps each sentence independent (a broken connection
loses one sentence, never the call's state) at the cost of a TLS handshake per sentence. The
protocol (``wss://api.elevenlabs.io/v1/text-to-speech/{voice_id}/stream-input``):

- the key goes in the ``xi-api-key`` header of the handshake; ``model_id`` and
  ``output_format`` (``pcm_16000``: raw PCM16 mono at 16 kHz, what the engine speaks) in the
  query string;
- the client sends ``{"text": " "}`` (with ``voice_settings`` when the agent sets a speed) to
  open the stream, then ``{"text": "<sentence> ", "try_trigger_generation": true}``, then
  ``{"text": ""}``, which ends the input and makes the server speak what it still holds;
- the server answers with JSON messages ``{"audio": "<base64 PCM>", "isFinal": null, ...}``
  and ends with ``{"isFinal": true}`` (its ``audio`` empty or null), then closes; a message
  with ``error`` (or a close with a policy code) is a failure.

Every failure becomes one :class:`SynthesisError`: the connection refused or rejected, no first
audio (or no next chunk) within ``timeout_s``, a frame that is not the JSON above, or the
connection dropped before ``isFinal``. A server that closes normally after sending audio,
without ``isFinal``, is taken as done (that is how ElevenLabs' own SDK reads the stream).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
from collections.abc import AsyncIterator, Mapping
from typing import Any
from urllib.parse import quote, urlencode

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, ConnectionClosedOK, InvalidHandshake, InvalidStatus, InvalidURI

from callwright.voice.audio import SAMPLE_RATE, Resampler
from callwright.voice.tts.base import SynthesisError
from callwright.voice.tts.normalize import speakable

DEFAULT_BASE_URL = "wss://api.elevenlabs.io"
DEFAULT_MODEL = "eleven_flash_v2_5"
_PCM_RATES = (8000, 16000, 22050, 24000, 44100, 48000)
_MIN_SPEED, _MAX_SPEED = 0.7, 1.2  # the range ElevenLabs' voice_settings.speed accepts
_NOT_RETRYABLE_HTTP = {400, 401, 402, 403, 404, 422}
_NOT_RETRYABLE_CLOSE = {1002, 1003, 1007, 1008, 1009}  # protocol, data, policy (a bad key, no quota)


def pcm_rate(output_format: str) -> int:
    """The sample rate of a ``pcm_<rate>`` output format; any other format is refused."""
    kind, _, rate = output_format.partition("_")
    if kind != "pcm" or not rate.isdigit() or int(rate) not in _PCM_RATES:
        raise ValueError(f"output_format must be one of {', '.join(f'pcm_{r}' for r in _PCM_RATES)}")
    return int(rate)


class ElevenLabsSynthesizer:
    """ElevenLabs voices, streamed sentence by sentence; see the module notes for the protocol.

    ``timeout_s`` bounds the connection, the wait for the first audio and each wait between
    chunks. ``speed`` (1.0: the voice's own pace) is sent as ``voice_settings.speed``, clamped
    to the 0.7–1.2 that ElevenLabs accepts.
    """

    def __init__(
        self,
        api_key: str,
        voice_id: str,
        model_id: str = DEFAULT_MODEL,
        base_url: str = DEFAULT_BASE_URL,
        output_format: str = "pcm_16000",
        timeout_s: float = 3.0,
        speed: float = 1.0,
    ) -> None:
        if not api_key:
            raise ValueError("an ElevenLabs API key is required")
        if not voice_id:
            raise ValueError("an ElevenLabs voice_id is required")
        if timeout_s <= 0:
            raise ValueError("timeout_s must be positive")
        self.rate = pcm_rate(output_format)
        self.voice_id = voice_id
        self.model_id = model_id
        self.output_format = output_format
        self.timeout_s = timeout_s
        self.speed = min(_MAX_SPEED, max(_MIN_SPEED, speed))
        self._api_key = api_key
        query = urlencode({"model_id": model_id, "output_format": output_format})
        self.url = f"{base_url.rstrip('/')}/v1/text-to-speech/{quote(voice_id, safe='')}/stream-input?{query}"

    def __repr__(self) -> str:  # never the key
        return f"ElevenLabsSynthesizer(voice_id={self.voice_id!r}, model_id={self.model_id!r})"

    def _opening(self) -> dict[str, Any]:
        opening: dict[str, Any] = {"text": " "}
        if self.speed != 1.0:
            opening["voice_settings"] = {"speed": self.speed}
        return opening

    async def synthesize(self, text: str) -> AsyncIterator[bytes]:
        spoken = " ".join(speakable(text).split())
        if not spoken:
            return
        resampler = Resampler(self.rate, SAMPLE_RATE, low_latency=False)
        async with await self._connect() as ws:
            try:
                for message in (self._opening(), {"text": spoken + " ", "try_trigger_generation": True}, {"text": ""}):
                    await ws.send(json.dumps(message))
            except ConnectionClosed as exc:
                raise _closed(exc, heard_audio=False) from exc
            heard_audio = False
            async for pcm in self._audio(ws):
                heard_audio = True
                if out := resampler.process(pcm):
                    yield out
            if not heard_audio:
                raise SynthesisError("ElevenLabs finished the sentence without audio", retryable=False)
            if tail := resampler.flush():
                yield tail

    async def _connect(self) -> ClientConnection:
        try:
            return await connect(
                self.url,
                additional_headers={"xi-api-key": self._api_key},
                open_timeout=self.timeout_s,
                close_timeout=min(1.0, self.timeout_s),
                max_size=2**22,
            )
        except InvalidStatus as exc:
            status = exc.response.status_code
            raise SynthesisError(
                f"ElevenLabs refused the connection: HTTP {status}", retryable=status not in _NOT_RETRYABLE_HTTP
            ) from exc
        except InvalidURI as exc:
            raise SynthesisError(f"ElevenLabs URL is not valid: {exc}", retryable=False) from exc
        except (OSError, InvalidHandshake, TimeoutError) as exc:
            raise SynthesisError(
                f"ElevenLabs could not be reached: {type(exc).__name__}: {exc}", retryable=True
            ) from exc

    async def _audio(self, ws: ClientConnection) -> AsyncIterator[bytes]:
        """The PCM of each audio message until ``isFinal``; every failure as a SynthesisError."""
        heard_audio = False
        while True:
            try:
                async with asyncio.timeout(self.timeout_s):
                    frame = await ws.recv()
            except TimeoutError as exc:
                what = "more audio" if heard_audio else "first audio"
                raise SynthesisError(
                    f"ElevenLabs sent no {what} within {self.timeout_s:g} s", retryable=True
                ) from exc
            except ConnectionClosed as exc:
                if isinstance(exc, ConnectionClosedOK) and heard_audio:
                    return
                raise _closed(exc, heard_audio) from exc
            message = _parse(frame)
            if message.get("error"):
                detail = message.get("message") or message["error"]
                raise SynthesisError(f"ElevenLabs error: {detail}", retryable=False)
            audio = message.get("audio")
            if audio:
                if not isinstance(audio, str):
                    raise SynthesisError("ElevenLabs sent an audio field that is not base64 text", retryable=False)
                try:
                    pcm = base64.b64decode(audio, validate=True)
                except (binascii.Error, ValueError) as exc:
                    raise SynthesisError("ElevenLabs sent audio that is not valid base64", retryable=False) from exc
                heard_audio = True
                yield pcm
            if message.get("isFinal"):
                return


def _parse(frame: str | bytes) -> dict[str, Any]:
    if isinstance(frame, bytes):
        raise SynthesisError("ElevenLabs sent a binary frame where JSON was expected", retryable=False)
    try:
        message = json.loads(frame)
    except ValueError as exc:
        raise SynthesisError(f"ElevenLabs sent a frame that is not JSON: {frame[:80]!r}", retryable=False) from exc
    if not isinstance(message, Mapping):
        raise SynthesisError(f"ElevenLabs sent JSON that is not an object: {frame[:80]!r}", retryable=False)
    return dict(message)


def _closed(exc: ConnectionClosed, heard_audio: bool) -> SynthesisError:
    close = exc.rcvd
    code = close.code if close is not None else 1006
    reason = f" ({close.reason})" if close is not None and close.reason else ""
    when = "mid-sentence" if heard_audio else "before any audio"
    return SynthesisError(
        f"ElevenLabs closed the connection {when}: code {code}{reason}", retryable=code not in _NOT_RETRYABLE_CLOSE
    )
