"""Which voice the simulated callee speaks with: Piper when the optional extra is installed
(Whisper hears it as it hears a person), else espeak-ng (always there, but hard for Whisper).

``CALLWRIGHT_CALLEE_VOICE``: ``auto`` (Piper if importable, else espeak), ``piper`` (required:
start-up fails without the extra) or ``espeak``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Literal

from callwright.voice.tts.base import Synthesizer
from callwright.voice.tts.espeak import EspeakSynthesizer
from callwright.voice.tts.piper import PiperSynthesizer, piper_installed

CalleeVoice = Literal["auto", "piper", "espeak"]

log = logging.getLogger(__name__)


def callee_synthesizer_factory(
    choice: CalleeVoice = "auto",
    *,
    espeak_voice: str = "en-gb",
    piper_model: Path | None = None,
    prewarm: bool = True,
) -> Callable[[], Synthesizer]:
    """A factory of the callee's voice for ``SimulatedCarrier``.

    Piper's voice is loaded once per process; with ``prewarm`` that happens now on a daemon
    thread, so the first call's lines are not held up by it. Raises ``PiperUnavailable`` when
    ``choice`` is ``piper`` and the extra (or the ``piper_model`` file) is missing.
    """
    use_piper = choice == "piper" or (choice == "auto" and (piper_model is not None or piper_installed()))
    if not use_piper:
        return lambda: EspeakSynthesizer(voice=espeak_voice)
    piper = PiperSynthesizer(piper_model)
    if prewarm:
        threading.Thread(target=_load, args=(piper,), name="piper-prewarm", daemon=True).start()
    return lambda: piper


def _load(piper: PiperSynthesizer) -> None:
    try:
        piper.load()
    except Exception:
        log.exception("loading the Piper voice failed; the callee's first lines will fail too")
