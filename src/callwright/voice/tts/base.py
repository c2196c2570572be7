"""The synthesizer seam: text in, PCM16 mono 16 kHz out."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Protocol


class Synthesizer(Protocol):
    """Speaks one sentence; yields PCM16 mono 16 kHz chunks as soon as they exist."""

    def synthesize(self, text: str) -> AsyncIterator[bytes]: ...
