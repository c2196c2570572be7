"""Answering-machine detection from the audio: the beep and the long greeting.

Carriers can report a machine (``answered_by``), but not always, so the engine listens too:
- a *beep* is a steady pure tone, 400–2000 Hz, lasting at least 200 ms. Each 20 ms frame is
  windowed and transformed; a frame is "tonal" when nearly all its energy sits in a few bins
  around one peak, and the beep is the run of tonal frames at (about) the same frequency.
  Speech never qualifies: voiced sounds spread energy over many harmonics. A DTMF key press
  is two tones, so it fails the concentration test as well. Quiet frames are rejected by their
  energy before any transform, and the transform itself is one matrix product (mean removal,
  window and DFT folded into one precomputed matrix): numpy's ``rfft`` and ``mean`` cost more
  in call overhead than in arithmetic on 160 samples (~15 µs a frame instead of ~45).
- a *greeting* is a long stretch of speech at the very start of the call: a person says
  "Hello?" and waits, a machine talks for seconds ("Hi, you've reached ...").
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from callwright.voice.audio import FRAME_MS, SAMPLE_RATE

BEEP_MIN_HZ = 400.0
BEEP_MAX_HZ = 2000.0
BEEP_MIN_MS = 200


class BeepDetector:
    """Finds a steady tone in 20 ms PCM16 16 kHz frames.

    ``process`` returns True while a confirmed beep is sounding. ``detected`` stays True once a
    beep has been heard; ``ended`` becomes True on the first non-tonal frame after it, which
    is when a voicemail starts recording.
    """

    def __init__(
        self,
        min_ms: int = BEEP_MIN_MS,
        min_hz: float = BEEP_MIN_HZ,
        max_hz: float = BEEP_MAX_HZ,
        concentration: float = 0.8,
        min_rms: float = 300.0,
        frame_ms: int = FRAME_MS,
        sample_rate: int = SAMPLE_RATE,
    ) -> None:
        self.frame_samples = sample_rate * frame_ms // 1000
        self.min_frames = max(1, -(-min_ms // frame_ms))
        self.concentration = concentration
        self.min_energy = (min_rms**2) * self.frame_samples
        n = self.frame_samples
        window = np.hanning(n)
        # Rows: cos then -sin of each rfft bin, applied to the windowed, mean-removed frame.
        k = np.arange(n // 2 + 1)[:, None]
        phase = 2 * np.pi * k * np.arange(n)[None, :] / n
        dft = np.concatenate((np.cos(phase), -np.sin(phase))) * window[None, :]
        self._bins = n // 2 + 1
        self._transform = (dft @ (np.eye(n) - np.full((n, n), 1.0 / n))).astype(np.float32)
        bin_hz = sample_rate / self.frame_samples
        self._bin_hz = bin_hz
        self._lo = max(1, int(np.floor(min_hz / bin_hz)))
        self._hi = int(np.ceil(max_hz / bin_hz))
        self._run = 0
        self._run_bin = -10
        self.detected = False
        self.ended = False
        self.frequency_hz: float | None = None

    def reset(self) -> None:
        self._run = 0
        self._run_bin = -10
        self.detected = False
        self.ended = False
        self.frequency_hz = None

    def tone_bin(self, frame: bytes) -> int | None:
        """The FFT bin of the frame's pure tone in the beep band, or None if the frame is not one."""
        x = np.frombuffer(frame, dtype="<i2").astype(np.float64)
        if len(x) != self.frame_samples:
            return None
        # Parseval: raw-domain energy (mean removed) before the transform, cheap rejection of silence.
        total_sum = float(x.sum())
        if float(np.dot(x, x)) - total_sum * total_sum / len(x) < self.min_energy:
            return None
        spectrum = np.dot(self._transform, x.astype(np.float32))
        spectrum *= spectrum
        power = spectrum[: self._bins] + spectrum[self._bins :]  # |rfft|^2 of the windowed frame
        total = float(power.sum())
        if total <= 0.0:
            return None
        peak = int(power.argmax())
        if peak < self._lo or peak > self._hi:
            return None
        lobe = float(power[max(0, peak - 2) : peak + 3].sum())
        return peak if lobe / total >= self.concentration else None

    def process(self, frame: bytes) -> bool:
        peak = self.tone_bin(frame)
        if peak is not None and abs(peak - self._run_bin) <= 1:
            self._run += 1
        elif peak is not None:
            self._run = 1
            self._run_bin = peak
        else:
            self._run = 0
            self._run_bin = -10
        sounding = self._run >= self.min_frames
        if sounding:
            if not self.detected:
                self.frequency_hz = self._run_bin * self._bin_hz
            self.detected = True
        elif self.detected:
            self.ended = True
        return sounding


GreetingVerdict = Literal["human", "machine"] | None


class GreetingDetector:
    """Tells a machine greeting from a person by the first stretch of speech.

    Fed per frame with the VAD's decision. Speech that runs ``machine_ms`` (default 3 s) without
    a pause of ``pause_ms`` is a machine; a pause before that is a person. Before any speech,
    and during the first stretch, the verdict is None.
    """

    def __init__(self, machine_ms: int = 3000, pause_ms: int = 500, frame_ms: int = FRAME_MS) -> None:
        self.machine_ms = machine_ms
        self.pause_ms = pause_ms
        self.frame_ms = frame_ms
        self.verdict: GreetingVerdict = None
        self._start_ms: int | None = None
        self._last_voiced_end_ms: int | None = None

    def process(self, at_ms: int, speaking: bool) -> GreetingVerdict:
        """Feed the frame starting at ``at_ms``; returns the verdict once there is one."""
        if self.verdict is not None:
            return self.verdict
        if speaking:
            if self._start_ms is None:
                self._start_ms = at_ms
            self._last_voiced_end_ms = at_ms + self.frame_ms
            if self._last_voiced_end_ms - self._start_ms >= self.machine_ms:
                self.verdict = "machine"
        elif self._last_voiced_end_ms is not None:
            if at_ms + self.frame_ms - self._last_voiced_end_ms >= self.pause_ms:
                self.verdict = "human"
        return self.verdict

    @property
    def heard_speech(self) -> bool:
        return self._start_ms is not None

    def speech_ms(self) -> int:
        """Length of the first stretch of speech so far."""
        if self._start_ms is None or self._last_voiced_end_ms is None:
            return 0
        return self._last_voiced_end_ms - self._start_ms


class VoicemailWait:
    """When to speak (or hang up) on an answering machine.

    Machines record after the beep, so the end of the beep is the cue. Without a beep, the
    greeting going quiet for ``silence_s`` is (some machines only record silently); if the
    machine never says anything, the same silence counts from the start of the wait. After
    ``max_wait_s`` it acts regardless: a greeting that never ends is not worth more.
    """

    def __init__(self, since: float, silence_s: float = 1.5, max_wait_s: float = 30.0) -> None:
        self.since = since
        self.silence_s = silence_s
        self.max_wait_s = max_wait_s
        self.beep_ended = False

    def ready(self, now: float, last_voiced_at: float | None, in_speech: bool) -> bool:
        if self.beep_ended or now - self.since >= self.max_wait_s:
            return True
        heard = last_voiced_at is not None and last_voiced_at >= self.since
        quiet_since = last_voiced_at if heard and last_voiced_at is not None else self.since
        return not in_speech and now - quiet_since >= self.silence_s
