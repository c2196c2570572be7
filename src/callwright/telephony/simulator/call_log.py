"""What a simulated callee did and when: the log tests and benchmarks read after a call."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SpokenLine:
    """One line the callee spoke; ``at_s`` is seconds since the stream started."""

    text: str
    at_s: float
    trigger: str  # "listen:<node>", "barge_in", "backchannel", "greeting" or "digits:<keys>" (a menu's answer)


@dataclass(frozen=True)
class SentDigit:
    """A key the callee pressed (a Media Streams ``dtmf`` message) on a ``listen:`` turn."""

    digit: str
    at_s: float
    trigger: str


@dataclass(frozen=True)
class HeardDigit:
    """A key the agent pressed, as the callee heard it: a DTMF tone in the agent's audio."""

    digit: str
    at_s: float


@dataclass
class TurnTiming:
    """The callee's own stopwatch on one of its turns (seconds since the stream started).

    ``last_sent_s``: its last frame with sound (or its last digit) went out; ``reply_s``: the
    first agent audio frame arrived after that. Their difference is the response latency as
    the far end hears it, measured independently of the server's records.
    """

    kind: str  # "speech" or "dtmf"
    text: str
    trigger: str
    last_sent_s: float | None = None
    reply_s: float | None = None

    @property
    def response_ms(self) -> float | None:
        if self.last_sent_s is None or self.reply_s is None:
            return None
        return (self.reply_s - self.last_sent_s) * 1000
