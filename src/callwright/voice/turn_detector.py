"""End of turn: a short silence, the Smart Turn model's judgement, and what the dialogue expects.

**The model.** Smart Turn v3.2 (Daily, BSD-2-Clause) is a Whisper-tiny encoder with a
classifier head, quantised to an 8.7 MB ONNX file. It listens to the last 8 s of the caller's
turn (16 kHz, :mod:`callwright.voice.log_mel` features) and gives the probability that the
utterance is complete: "I'd like to book an appointment for Tuesday." versus "I'd like to book
an…". It judges the words and the prosody, where plain silence cannot tell a finished
sentence from a thinking pause. It was trained on human and natural synthetic speech: on
espeak-ng voices its judgement is erratic (a cut sentence often scores higher than the whole
one), so the simulated callee does not exercise it meaningfully; see ``bench/turn_detector.py``.
One call costs ~70 ms of CPU on one core (AMD EPYC, AVX2), so it runs on a worker thread,
never on the event loop.

**Where the file comes from.** We never commit the weights. :meth:`SmartTurnDetector.load`
takes, in order: an explicit path; the ``CALLWRIGHT_SMART_TURN_MODEL`` environment variable;
the copy inside an installed ``pipecat-ai`` wheel (``pipecat/audio/turn/smart_turn/data/``),
found through the distribution's file list without importing pipecat. The file's SHA-256 is
pinned: a different file is refused unless the caller passes its own digest (or ``None``).

**The decision** is :mod:`callwright.voice.end_of_turn`'s (re-exported here).
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from importlib import metadata
from pathlib import Path

import numpy as np
import onnxruntime as ort  # type: ignore[import-untyped]  # no stubs, no py.typed

from callwright.voice.audio import Resampler
from callwright.voice.end_of_turn import EndOfTurnOptions, end_of_turn, required_silence_ms
from callwright.voice.log_mel import N_MELS, WINDOW_FRAMES, smart_turn_features

__all__ = [
    "EndOfTurnOptions",
    "SmartTurnDetector",
    "TurnModelError",
    "TurnModelNotFound",
    "end_of_turn",
    "find_model",
    "required_silence_ms",
]

MODEL_ENV = "CALLWRIGHT_SMART_TURN_MODEL"
"""Environment variable naming the ONNX file, when it is not the one in the pipecat-ai wheel."""

MODEL_FILE = "smart-turn-v3.2-cpu.onnx"
MODEL_DISTRIBUTION = "pipecat-ai"
MODEL_PATH_IN_DISTRIBUTION = f"pipecat/audio/turn/smart_turn/data/{MODEL_FILE}"
MODEL_SHA256 = "2bb026316b14a660486a75b1733cd3fbab8c2fd0314dc9af7be49f8cca967e4f"
"""SHA-256 of smart-turn-v3.2-cpu.onnx as shipped in pipecat-ai 1.14.0 (8,679,182 bytes)."""

_INSTALL_HINT = (
    f"install the file with `pip install --no-deps {MODEL_DISTRIBUTION}` (12 MB; the model is inside "
    f"the wheel) or point {MODEL_ENV} at a copy of {MODEL_FILE}"
)


class TurnModelError(RuntimeError):
    """The Smart Turn model cannot be used: missing, a different file, or not loadable."""


class TurnModelNotFound(TurnModelError, FileNotFoundError):
    """No model file at the given path, in the environment variable, or in a pipecat-ai wheel."""


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def find_model(path: str | os.PathLike[str] | None = None) -> Path:
    """The model file: ``path``, else ``$CALLWRIGHT_SMART_TURN_MODEL``, else the pipecat-ai wheel's.

    Raises :class:`TurnModelNotFound`, saying where it looked, when there is none.
    """
    if path is not None or os.environ.get(MODEL_ENV):
        given = Path(path if path is not None else os.environ[MODEL_ENV]).expanduser()
        source = "the given path" if path is not None else MODEL_ENV
        if not given.is_file():
            raise TurnModelNotFound(f"Smart Turn model not found at {given} ({source}); {_INSTALL_HINT}")
        return given
    try:
        dist = metadata.distribution(MODEL_DISTRIBUTION)
    except metadata.PackageNotFoundError:
        raise TurnModelNotFound(
            f"Smart Turn model not found: {MODEL_ENV} is unset and {MODEL_DISTRIBUTION} is not installed; "
            + _INSTALL_HINT
        ) from None
    for file in dist.files or ():
        if file.as_posix() == MODEL_PATH_IN_DISTRIBUTION:
            located = Path(str(dist.locate_file(file)))
            if located.is_file():
                return located
    raise TurnModelNotFound(
        f"{MODEL_DISTRIBUTION} {dist.version} is installed but has no {MODEL_PATH_IN_DISTRIBUTION}; "
        f"point {MODEL_ENV} at a copy of {MODEL_FILE}"
    )


class SmartTurnDetector:
    """The Smart Turn model in onnxruntime, with its own worker thread(s).

    Thread-safe. Each call takes the whole turn so far (the model wants the full utterance, up
    to its last 8 s, not the latest chunk); re-run it when the caller speaks again.
    """

    def __init__(self, session: ort.InferenceSession, path: Path, workers: int = 1) -> None:
        (model_input,) = session.get_inputs()
        if list(model_input.shape[1:]) != [N_MELS, WINDOW_FRAMES]:
            raise TurnModelError(f"{path}: expected input (batch, {N_MELS}, {WINDOW_FRAMES}), got {model_input.shape}")
        self.path = path
        self._session = session
        self._input = model_input.name
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="smart-turn")
        self._closed = threading.Event()

    @classmethod
    def load(
        cls,
        path: str | os.PathLike[str] | None = None,
        *,
        sha256: str | None = MODEL_SHA256,
        threads: int = 1,
        workers: int = 1,
    ) -> SmartTurnDetector:
        """Load the model (blocking: ~0.1–0.3 s; call it at start-up or on a worker thread).

        ``path``: see :func:`find_model`. ``sha256``: the digest the file must have (the pinned
        v3.2 file by default; pass your own for another file, or ``None`` to skip the check).
        ``threads``: onnxruntime's intra-op threads per call. ``workers``: calls run at once.
        """
        found = find_model(path)
        if sha256 is not None:
            actual = _sha256(found)
            if actual != sha256.lower():
                raise TurnModelError(
                    f"{found} is not the expected Smart Turn model: sha256 {actual}, expected {sha256}. "
                    "Pass sha256=<its digest> (or None) to use a different model file deliberately."
                )
        options = ort.SessionOptions()
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.inter_op_num_threads = 1
        options.intra_op_num_threads = threads
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        try:
            session = ort.InferenceSession(str(found), sess_options=options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own Fail/InvalidProtobuf types
            raise TurnModelError(f"onnxruntime cannot load {found}: {exc}") from exc
        return cls(session, found, workers=workers)

    def predict(self, pcm16k: bytes) -> float:
        """Probability that the turn is complete, for the turn's audio (PCM16 mono 16 kHz). Blocking."""
        features = smart_turn_features(pcm16k)
        (output,) = self._session.run(None, {self._input: features})
        return float(np.asarray(output).reshape(-1)[0])

    async def complete_probability(self, pcm16k: bytes) -> float:
        """:meth:`predict` on the detector's worker thread; the event loop keeps running."""
        if self._closed.is_set():
            raise TurnModelError("the turn detector is closed")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self.predict, pcm16k)

    async def complete_probability_8k(self, pcm8k: bytes) -> float:
        """The same for the phone line's 8 kHz audio, upsampled on the worker thread too."""
        if self._closed.is_set():
            raise TurnModelError("the turn detector is closed")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._predict_8k, pcm8k)

    def _predict_8k(self, pcm8k: bytes) -> float:
        resampler = Resampler(8000, 16000)
        return self.predict(resampler.process(pcm8k) + resampler.flush())

    def close(self) -> None:
        """Stop the worker thread(s) once queued calls finish."""
        self._closed.set()
        self._executor.shutdown(wait=False, cancel_futures=True)
