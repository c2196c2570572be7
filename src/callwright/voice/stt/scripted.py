"""A transcriber that does no work: it returns scripted lines.

It stands in for a remote speech-to-text service in the capacity benchmark, where the point is
the platform's own cost per call, and in tests that need a known transcript.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable

from callwright.domain.expectation import Expectation
from callwright.voice.stt.base import Transcript

Script = Iterable[str] | Callable[[Expectation | None], str]


class ScriptedUtterance:
    """Counts the audio it is fed and answers with a line fixed when it was created."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.bytes_fed = 0

    def push(self, pcm: bytes) -> None:
        self.bytes_fed += len(pcm)

    def partial(self) -> str | None:
        return None

    def request_partial(self) -> bool:
        return False

    def pause(self) -> None:
        pass

    def resume(self) -> None:
        pass

    async def finish(self) -> Transcript:
        return Transcript(self.text, 1.0 if self.text else None)

    def close(self) -> None:
        pass


class ScriptedTranscriber:
    """Each utterance gets the next scripted line (empty once the script runs out).

    A callable script is asked for the line with the utterance's expectation, so a benchmark can
    answer whatever the flow asks.
    """

    sample_rate = 16000

    def __init__(self, script: Script) -> None:
        self._next: Callable[[Expectation | None], str]
        if callable(script):
            self._next = script
        else:
            lines = iter(list(script))
            self._next = lambda _expect: next(lines, "")
        self._lock = threading.Lock()
        self.utterances = 0

    def utterance(self, expect: Expectation | None) -> ScriptedUtterance:
        with self._lock:
            self.utterances += 1
            return ScriptedUtterance(self._next(expect))
