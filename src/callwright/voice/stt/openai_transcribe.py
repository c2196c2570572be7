"""OpenAI's transcription endpoint (``POST {base_url}/audio/transcriptions``), or any server that speaks it.

The endpoint takes a whole file, so an utterance buffers its PCM and sends it as one WAV
(PCM16 mono at the transcriber's ``sample_rate``) in a multipart form with ``model``,
``language`` (ISO-639-1: ``en-US`` is sent as ``en``), ``response_format=json`` and, when the
dialogue expects one of a few answers, a ``prompt`` listing them, else the agent's ``hints``
(Whisper follows the prompt's vocabulary). The answer is ``{"text": ...}``.
Authentication is ``Authorization: Bearer <key>``. There are no partial results.

To take the round trip off the end of the turn, the request starts when the caller falls
silent (``pause``), with the audio heard so far: by the time the endpointing silence has run and
``finish`` is called the text is usually back. ``resume`` (the caller spoke again) cancels it,
and ``finish`` then sends the whole utterance. The silence pushed after ``pause`` is left out
of the early request, which is the point: it is silence. The price: a caller who pauses and
speaks on costs a request that is thrown away (``start_at_pause=False`` turns this off).

Every failure becomes one :class:`TranscriberError`: the server unreachable, an HTTP error
(400/401/403/404/413/415 are not retryable; 408, 409, 429 and 5xx are), no answer within
``timeout_s``, or an answer that is not ``{"text": ...}``.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import wave
from collections.abc import Sequence
from typing import Any

import httpx

from callwright.domain.expectation import Expectation
from callwright.voice.stt.base import TranscriberError, Transcript

DEFAULT_BASE_URL = "https://api.openai.com/v1"
DEFAULT_MODEL = "whisper-1"
MIN_AUDIO_MS = 100  # the endpoint refuses shorter audio; an utterance this short is taken as silence
_RATES = (8000, 16000)
MAX_PROMPT_CHARS = 600  # Whisper reads the last 224 tokens of a prompt; a list longer than this is cut
_RETRYABLE_HTTP = {408, 409, 425, 429}


def wav_bytes(pcm: bytes, rate: int) -> bytes:
    """PCM16 mono ``pcm`` at ``rate`` as a WAV file."""
    out = io.BytesIO()
    with wave.open(out, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(pcm[: len(pcm) & ~1])
    return out.getvalue()


class OpenAITranscriber:
    """OpenAI speech-to-text (``whisper-1``, ``gpt-4o-mini-transcribe``, ``gpt-4o-transcribe``).

    ``timeout_s`` bounds each request (connection and answer). One HTTP client is shared by the
    transcriber's utterances (connections are reused); ``aclose`` releases it, or pass ``http``.
    ``hints`` (the agent's vocabulary) are the prompt when the dialogue expects no choices.
    ``start_at_pause=False`` waits for ``finish``: slower turns, but no request is ever wasted
    (each pause the caller speaks on from costs one request for the audio so far).
    """

    def __init__(
        self,
        api_key: str,
        base_url: str = DEFAULT_BASE_URL,
        model: str = DEFAULT_MODEL,
        language: str | None = "en",
        timeout_s: float = 5.0,
        sample_rate: int = 16000,
        http: httpx.AsyncClient | None = None,
        hints: Sequence[str] = (),
        start_at_pause: bool = True,
    ) -> None:
        if not api_key:
            raise ValueError("an OpenAI API key is required")
        if sample_rate not in _RATES:
            raise ValueError("sample_rate must be 8000 or 16000")
        if timeout_s <= 0:
            raise ValueError("timeout_s must be positive")
        self.url = base_url.rstrip("/") + "/audio/transcriptions"
        self.model = model
        # The endpoint takes ISO-639-1 ("en"); an agent's language may be a BCP 47 tag ("en-US").
        self.language = language.split("-")[0].strip().lower() if language else None
        self.timeout_s = timeout_s
        self._rate = sample_rate
        self._api_key = api_key
        self._http = http
        self._owns_http = http is None
        self.hints = tuple(h.strip() for h in hints if h.strip())
        self.start_at_pause = start_at_pause

    def __repr__(self) -> str:  # never the key
        return f"OpenAITranscriber(url={self.url!r}, model={self.model!r}, language={self.language!r})"

    @property
    def sample_rate(self) -> int:
        return self._rate

    def utterance(self, expect: Expectation | None) -> OpenAIUtterance:
        return OpenAIUtterance(self, _prompt(expect, self.hints))

    async def aclose(self) -> None:
        if self._http is not None and self._owns_http:
            await self._http.aclose()
        self._http = None

    async def transcribe(self, pcm: bytes, prompt: str | None = None) -> Transcript:
        """One request: ``pcm`` (PCM16 mono at ``sample_rate``) to text."""
        if len(pcm) < 2 * self._rate * MIN_AUDIO_MS // 1000:
            return Transcript("")
        if self._http is None:
            self._http = httpx.AsyncClient()
        data: dict[str, str] = {"model": self.model, "response_format": "json"}
        if self.language:
            data["language"] = self.language
        if prompt:
            data["prompt"] = prompt
        files = {"file": ("utterance.wav", wav_bytes(pcm, self._rate), "audio/wav")}
        headers = {"Authorization": f"Bearer {self._api_key}", "Accept": "application/json"}
        try:
            r = await self._http.post(
                self.url, data=data, files=files, headers=headers, timeout=httpx.Timeout(self.timeout_s)
            )
        except httpx.TimeoutException as exc:
            raise TranscriberError(
                f"the transcription server did not answer within {self.timeout_s:g} s", retryable=True
            ) from exc
        except httpx.TransportError as exc:
            raise TranscriberError(
                f"the transcription server could not be reached: {type(exc).__name__}: {exc}", retryable=True
            ) from exc
        if r.status_code >= 400:
            raise TranscriberError(
                f"the transcription server answered HTTP {r.status_code}: {r.text[:200]}",
                retryable=r.status_code in _RETRYABLE_HTTP or r.status_code >= 500,
            )
        try:
            body: Any = r.json()
        except ValueError as exc:
            raise TranscriberError(f"the transcription server sent no JSON: {r.text[:80]!r}", retryable=False) from exc
        text = body.get("text") if isinstance(body, dict) else None
        if not isinstance(text, str):
            raise TranscriberError(f"the transcription server sent no text: {r.text[:80]!r}", retryable=False)
        text = " ".join(text.split())
        return Transcript(text) if text else Transcript("")


class OpenAIUtterance:
    """Buffers the utterance; transcribes it at ``pause`` (speculatively) or at ``finish``."""

    def __init__(self, transcriber: OpenAITranscriber, prompt: str | None) -> None:
        self._transcriber = transcriber
        self._prompt = prompt
        self._pcm = bytearray()
        self._early: asyncio.Task[Transcript] | None = None
        self._closed = False

    def push(self, pcm: bytes) -> None:
        if not self._closed:
            self._pcm += pcm

    def partial(self) -> str | None:
        return None

    def request_partial(self) -> bool:
        return False  # a request per check would cost more than the words are worth

    def pause(self) -> None:
        if self._closed or self._early is not None or not self._transcriber.start_at_pause:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # no loop (a tool feeding audio synchronously): finish does the work
        self._early = loop.create_task(self._transcriber.transcribe(bytes(self._pcm), self._prompt))

    def resume(self) -> None:
        self._cancel_early()

    async def finish(self) -> Transcript:
        if self._closed:
            raise TranscriberError("utterance already finished")
        early, self._early = self._early, None
        pcm = bytes(self._pcm)
        self.close()
        if early is not None:
            return await early
        return await self._transcriber.transcribe(pcm, self._prompt)

    def close(self) -> None:
        self._closed = True
        self._cancel_early()
        self._pcm.clear()

    def _cancel_early(self) -> None:
        early, self._early = self._early, None
        if early is not None and not early.done():
            early.cancel()
        elif early is not None:
            with contextlib.suppress(BaseException):
                early.exception()  # retrieved, so a failed early request is not logged as lost


def _prompt(expect: Expectation | None, hints: Sequence[str]) -> str | None:
    """The expected choices, else the agent's vocabulary, as a prompt (a list in the caller's words)."""
    choices = [c.strip() for c in expect.choices if c.strip()] if expect is not None else []
    words = choices or list(hints)
    if not words:
        return None
    prompt = ", ".join(words)
    if len(prompt) > MAX_PROMPT_CHARS:
        prompt = prompt[:MAX_PROMPT_CHARS].rsplit(",", 1)[0]  # whole words only
    return prompt + "."
