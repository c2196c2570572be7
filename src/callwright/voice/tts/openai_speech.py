"""OpenAI's speech endpoint (``POST {base_url}/audio/speech``), or any server that speaks it.

The request asks for ``response_format: "pcm"``: raw PCM16 mono at 24 kHz, little-endian, no
header, streamed as the body is produced. Each chunk is resampled to 16 kHz as it arrives by
one streaming resampler per sentence (so chunk edges, even a split sample, leave no mark).
Authentication is ``Authorization: Bearer <key>``.

Every failure becomes one :class:`SynthesisError`: the server unreachable, an HTTP error
(401/403/404/400 are not retryable; 408, 409, 429 and 5xx are), no first byte (or no next
chunk) within ``timeout_s``, a body that is not audio (JSON, say), or the connection dropped
mid-body.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx

from callwright.voice.audio import SAMPLE_RATE, Resampler
from callwright.voice.tts.base import SynthesisError
from callwright.voice.tts.normalize import speakable

DEFAULT_BASE_URL = "https://api.openai.com/v1"
PCM_RATE = 24000  # what "pcm" means on this endpoint
_RETRYABLE_HTTP = {408, 409, 425, 429}
_MIN_SPEED, _MAX_SPEED = 0.25, 4.0


class OpenAISpeechSynthesizer:
    """OpenAI text-to-speech (``tts-1``, ``tts-1-hd``, ``gpt-4o-mini-tts``), streamed.

    ``timeout_s`` bounds the connection, the wait for the first bytes and each wait between
    chunks. ``speed`` is sent as the request's ``speed`` (1.0: the voice's own pace).
    """

    def __init__(
        self,
        api_key: str,
        base_url: str = DEFAULT_BASE_URL,
        model: str = "tts-1",
        voice: str = "alloy",
        timeout_s: float = 3.0,
        speed: float = 1.0,
        http: httpx.AsyncClient | None = None,
    ) -> None:
        if timeout_s <= 0:
            raise ValueError("timeout_s must be positive")
        self.url = base_url.rstrip("/") + "/audio/speech"
        self.model = model
        self.voice = voice
        self.timeout_s = timeout_s
        self.speed = min(_MAX_SPEED, max(_MIN_SPEED, speed))
        self._api_key = api_key
        self._http = http  # shared client, or None for one per sentence

    def __repr__(self) -> str:  # never the key
        return f"OpenAISpeechSynthesizer(url={self.url!r}, model={self.model!r}, voice={self.voice!r})"

    def _body(self, text: str) -> dict[str, object]:
        body: dict[str, object] = {"model": self.model, "input": text, "voice": self.voice, "response_format": "pcm"}
        if self.speed != 1.0:
            body["speed"] = self.speed
        return body

    async def synthesize(self, text: str) -> AsyncIterator[bytes]:
        spoken = " ".join(speakable(text).split())
        if not spoken:
            return
        if self._http is not None:
            async for pcm in self._stream(self._http, spoken):
                yield pcm
            return
        async with httpx.AsyncClient() as http:
            async for pcm in self._stream(http, spoken):
                yield pcm

    async def _stream(self, http: httpx.AsyncClient, spoken: str) -> AsyncIterator[bytes]:
        resampler = Resampler(PCM_RATE, SAMPLE_RATE)
        timeout = httpx.Timeout(self.timeout_s)
        headers = {"Authorization": f"Bearer {self._api_key}", "Accept": "audio/pcm, application/octet-stream"}
        heard = 0
        try:
            async with http.stream("POST", self.url, json=self._body(spoken), headers=headers, timeout=timeout) as r:
                if r.status_code >= 400:
                    detail = (await r.aread())[:200].decode("utf-8", "replace")
                    raise SynthesisError(
                        f"the speech server answered HTTP {r.status_code}: {detail}",
                        retryable=r.status_code in _RETRYABLE_HTTP or r.status_code >= 500,
                    )
                kind = r.headers.get("content-type", "").split(";")[0].strip().lower()
                if kind.startswith(("application/json", "text/")):
                    detail = (await r.aread())[:200].decode("utf-8", "replace")
                    raise SynthesisError(f"the speech server sent {kind}, not audio: {detail}", retryable=False)
                async for chunk in r.aiter_bytes():
                    heard += len(chunk)
                    if out := resampler.process(chunk):
                        yield out
        except httpx.TimeoutException as exc:
            what = "more audio" if heard else "first audio"
            raise SynthesisError(
                f"the speech server sent no {what} within {self.timeout_s:g} s", retryable=True
            ) from exc
        except httpx.TransportError as exc:  # refused, reset, dropped mid-body, a broken chunked encoding
            when = "mid-sentence" if heard else "before any audio"
            raise SynthesisError(
                f"the speech server connection failed {when}: {type(exc).__name__}: {exc}", retryable=True
            ) from exc
        if not heard:
            raise SynthesisError("the speech server answered with no audio", retryable=False)
        if tail := resampler.flush():
            yield tail
