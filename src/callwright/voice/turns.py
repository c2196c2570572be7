"""Turn-taking decisions: when the caller has finished, when they interrupt, when digits form a turn.

These are small synchronous state machines fed on the stream clock (20 ms frames, milliseconds
since the stream started) so they are deterministic, cheap per frame and testable without
audio or timers. The session owns the wall clock and feeds them.
"""

from __future__ import annotations

from dataclasses import dataclass

DTMF_TERMINATOR = "#"
DTMF_TIMEOUT_MS = 1500


class Endpointer:
    """Decides that the caller is done: ``required_ms`` of non-speech after speech.

    ``required_ms`` starts each utterance at ``endpointing_ms`` (the plain silence rule) and may
    be moved while the caller is silent, by what is learnt about the utterance (the turn model's
    judgement, a satisfied grammar; see ``turn_detector.required_silence_ms``).

    Speech *start* comes from the VAD's consecutive-frame rule (it filters clicks and the noisy
    first frames); the *end* is judged here on raw voiced flags, so a VAD hangover cannot add
    to the configured endpointing delay.
    """

    def __init__(self, endpointing_ms: int, frame_ms: int = 20) -> None:
        if endpointing_ms < 0:
            raise ValueError("endpointing_ms must be >= 0")
        self.endpointing_ms = endpointing_ms
        self.frame_ms = frame_ms
        self.reset()

    def reset(self) -> None:
        self.required_ms = self.endpointing_ms
        self.in_speech = False
        self.speech_start_ms: int | None = None
        self.last_voiced_ms: int | None = None
        self.voiced_ms = 0

    def start(self, at_ms: int, voiced_ms: int = 0) -> None:
        """Speech began at ``at_ms`` (the VAD confirmed it); ``voiced_ms`` already heard."""
        self.in_speech = True
        self.speech_start_ms = at_ms
        self.last_voiced_ms = at_ms
        self.voiced_ms = voiced_ms

    def frame(self, at_ms: int, voiced: bool) -> bool:
        """Feed one frame that starts at ``at_ms``; True when this frame ends the turn."""
        if not self.in_speech:
            return False
        if voiced:
            self.last_voiced_ms = at_ms + self.frame_ms
            self.voiced_ms += self.frame_ms
            return False
        return self.silence_ms(at_ms + self.frame_ms) >= self.required_ms

    def silence_ms(self, now_ms: int) -> int:
        """Non-speech since the end of the last voiced frame."""
        if self.last_voiced_ms is None:
            return 0
        return max(0, now_ms - self.last_voiced_ms)


BACKCHANNELS = frozenset(
    {
        "uh-huh", "uh", "huh", "uhhuh", "mm-hmm", "mm-hm", "mhm", "mm", "hmm", "hm", "mmhmm", "um", "ah",
        "oh", "okay", "ok", "yeah", "yep", "yes", "right", "sure", "alright", "i", "see", "got", "it",
    }
)
"""Words a listener says to show they are following, not to take the turn ("uh-huh", "I see",
"okay", "got it"). Speech made only of these does not interrupt the agent."""


STOP_WORDS = frozenset({"stop", "wait", "hold", "sorry", "excuse", "no", "hang", "hello", "actually"})
"""Single words that ask the agent to stop: they interrupt however short."""

UNCLEAR_MS = 600
"""Below this much voiced speech, one recognised word is as often a misheard "uh-huh" (a
recogniser given a third of a second of a murmur will find a word in it) as a word."""


def content_words(text: str) -> list[str]:
    """The words of ``text`` that are not backchannel sounds (lower case, punctuation dropped)."""
    words = ("".join(c for c in raw.lower() if c.isalnum() or c in "-'") for raw in text.split())
    return [w for w in words if w and w not in BACKCHANNELS]


@dataclass(frozen=True)
class BargeInPolicy:
    """When caller speech over the agent counts as an interruption.

    The voiced duration must reach ``min_ms``. With partial text, it must also hold ``min_words``
    words that are not backchannels: a cough has duration but no words, "uh-huh" has words that
    only say "go on". One word under ``UNCLEAR_MS`` of speech waits for more (or for the speech
    to end, as a backchannel), unless it is a stop word. Without partial text (a recogniser that
    cannot give any) the duration alone decides.
    """

    allow: bool = True
    min_ms: int = 300
    min_words: int = 1

    def should_interrupt(self, voiced_ms: int, partial_text: str | None = None) -> bool:
        if not self.allow or voiced_ms < self.min_ms:
            return False
        if partial_text is None or self.min_words == 0:
            return True
        words = content_words(partial_text)
        if len(words) < self.min_words:
            return False
        return len(words) > 1 or voiced_ms >= UNCLEAR_MS or words[0] in STOP_WORDS


class DtmfCollector:
    """Assembles keyed digits into one turn.

    A turn ends when ``expected_length`` digits have arrived, on ``#`` (not included), or
    ``timeout_ms`` after the last digit.
    """

    def __init__(self, expected_length: int | None = None, timeout_ms: int = DTMF_TIMEOUT_MS) -> None:
        self.expected_length = expected_length
        self.timeout_ms = timeout_ms
        self.digits = ""
        self.last_at_ms: int | None = None

    @property
    def pending(self) -> bool:
        return self.last_at_ms is not None

    def push(self, digit: str, at_ms: int) -> str | None:
        """Add a digit; returns the finished turn's digits, or None while more may come."""
        if digit == DTMF_TERMINATOR:
            return self._take() if self.pending else None
        self.digits += digit
        self.last_at_ms = at_ms
        if self.expected_length is not None and len(self.digits) >= self.expected_length:
            return self._take()
        return None

    def poll(self, now_ms: int) -> str | None:
        """The digits if the inter-digit timeout has passed, else None."""
        if self.last_at_ms is not None and now_ms - self.last_at_ms >= self.timeout_ms:
            return self._take()
        return None

    def _take(self) -> str:
        digits = self.digits
        self.digits = ""
        self.last_at_ms = None
        return digits
