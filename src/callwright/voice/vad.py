"""Is the caller speaking? webrtcvad per 20 ms frame, with a start rule against false starts.

Two habits of webrtcvad shape this module (measured at aggressiveness 2, 20 ms frames):

- It calls the first ~80 ms of a noisy stream speech, and isolated clicks too. So speech
  only *starts* after ``start_frames`` heard frames in a row.
- It adds a hangover after every voiced stretch: 4 frames (80 ms) after a short one, 6–7
  (120–140 ms) after a longer one, whatever follows. A single 20 ms click therefore comes out as
  five voiced frames in a row, and would pass a plain five-frame rule. So a frame is *heard*
  only when webrtcvad says voiced **and** it stands ``margin_db`` above the background level,
  which hangover frames (made of background) do not. The background level follows the quietest
  recent frames and rises only on frames webrtcvad calls unvoiced, so speech never lifts it.

Once speech has started, each frame reports whether it was heard: an unvoiced frame (or a
hangover frame) returns False at once. Deciding that the utterance is over (``endpointing_ms``
of such frames) is the turn detector's job; it calls :meth:`SpeechDetector.reset` when it ends
a turn, so that the next one must pass the start rule again.
"""

from __future__ import annotations

import math

import numpy as np
import webrtcvad

from callwright.voice.audio import FRAME_MS, SAMPLE_RATE

_INITIAL_FLOOR_DB = 30.0  # a quiet line (RMS ~30 of 32768) until the stream shows its own
_FLOOR_RISE = 0.1  # per unvoiced frame, towards its level: ~200 ms time constant


class SpeechDetector:
    """Per-frame speech decisions for one audio stream (PCM16 mono, 20 ms frames)."""

    def __init__(
        self,
        aggressiveness: int = 2,
        start_frames: int = 5,
        rate: int = SAMPLE_RATE,
        margin_db: float = 6.0,
    ) -> None:
        if not 0 <= aggressiveness <= 3:
            raise ValueError("aggressiveness must be 0..3")
        if start_frames < 1:
            raise ValueError("start_frames must be at least 1")
        if not webrtcvad.valid_rate_and_frame_length(rate, rate * FRAME_MS // 1000):
            raise ValueError(f"webrtcvad does not take {rate} Hz audio")
        self._vad = webrtcvad.Vad(aggressiveness)
        self.start_frames = start_frames
        self.rate = rate
        self.margin_db = margin_db
        self.frame_bytes = rate * FRAME_MS // 1000 * 2
        self.floor_db = _INITIAL_FLOOR_DB
        self.last_voiced = False  # webrtcvad's raw verdict on the last frame given to process()
        self._run = 0
        self._speaking = False

    @property
    def speaking(self) -> bool:
        """True from the frame that passed the start rule until :meth:`reset`."""
        return self._speaking

    def frame_is_voiced(self, frame: bytes) -> bool:
        """webrtcvad's raw verdict on one 20 ms frame (hangover included, no start rule)."""
        if len(frame) != self.frame_bytes:
            raise ValueError(f"expected a {self.frame_bytes}-byte frame, got {len(frame)}")
        return bool(self._vad.is_speech(frame, self.rate))

    def process(self, frame: bytes) -> bool:
        """Whether the caller is speaking in this frame.

        Before speech has started: True only on the ``start_frames``-th heard frame in a row.
        Once started: whether this frame was heard.
        """
        heard = self._hear(frame)
        if self._speaking:
            return heard
        self._run = self._run + 1 if heard else 0
        if self._run >= self.start_frames:
            self._speaking = True
            return True
        return False

    def reset(self) -> None:
        """End the current speech: the next must pass the start rule again.

        The background level and webrtcvad's own noise model are kept: they belong to the
        stream, not the turn.
        """
        self._run = 0
        self._speaking = False

    def _hear(self, frame: bytes) -> bool:
        voiced = self.last_voiced = self.frame_is_voiced(frame)
        x = np.frombuffer(frame, dtype="<i2").astype(np.float64)
        level_db = 10 * math.log10(float(np.dot(x, x)) / len(x) + 1.0)
        if level_db < self.floor_db:
            self.floor_db = level_db
        elif not voiced:
            self.floor_db += _FLOOR_RISE * (level_db - self.floor_db)
        return voiced and level_db >= self.floor_db + self.margin_db


_shared: dict[tuple[int, int], SpeechDetector] = {}


def frame_is_voiced(frame: bytes, aggressiveness: int = 2, rate: int = SAMPLE_RATE) -> bool:
    """webrtcvad's raw verdict on one 20 ms frame, without a detector of your own.

    One webrtcvad instance per setting is shared by every caller, so its adaptive noise model
    mixes streams. A :class:`SpeechDetector` sets ``last_voiced`` in ``process`` from the
    stream's own instance, without running webrtcvad twice.
    """
    detector = _shared.get((aggressiveness, rate))
    if detector is None:
        detector = _shared[aggressiveness, rate] = SpeechDetector(aggressiveness, rate=rate)
    return detector.frame_is_voiced(frame)
