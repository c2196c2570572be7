"""Hearing DTMF in call audio: what a phone menu at the far end does with the agent's key presses.

A streaming Goertzel detector for μ-law 8 kHz. Every 10 ms it measures the power at the eight
DTMF frequencies over the last 205 samples (25.6 ms: 39 Hz resolution, so neighbouring row
tones 73 Hz apart leak each other no more than about -23 dB). Goertzel's single-bin DFT is
computed as one matrix product per chunk, not a per-sample Python loop: the same figures at a
small cost, since every simulated call runs one (about 40 µs per 20 ms frame of sound, next to
nothing on silence).

A block is a hit for a key when (the usual receiver checks, as in ITU-T Q.24 / spandsp):
- both tones are above an energy floor (-30 dBm0 each);
- twist is within limits (the high tone at most 8 dB weaker, 4 dB stronger than the low one);
- each tone beats every other tone of its group by 8 dB;
- the two tones carry most of the block's power. This is what rejects speech: a voice puts
  energy all over the band, a keypad only at two frequencies.

A key is reported after ``MIN_HITS`` hits in a row (about 40 ms of tone) and then held until
``RELEASE_MISSES`` blocks in a row are not that key, so a long tone is one digit and the same
key twice needs a pause in between.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from callwright.voice.audio import CARRIER_RATE, ulaw_decode
from callwright.voice.dtmf import COL_HZ, DBM0_PEAK, KEYPAD, ROW_HZ

BLOCK = 205  # samples per Goertzel block (25.6 ms)
HOP = 80  # a block every 10 ms
MIN_HITS = 3  # blocks in a row: ~40 ms of tone
RELEASE_MISSES = 2  # blocks in a row without the key before it can be pressed again
FLOOR_DBM0 = -30.0
NORMAL_TWIST_DB = 8.0  # high tone weaker than the low one (lines lose the highs)
REVERSE_TWIST_DB = 4.0  # high tone stronger
RELATIVE_PEAK_DB = 8.0
TONE_SHARE = 0.7  # at least this share of the block's power is in the two tones

_F64 = npt.NDArray[np.float64]
_FREQS = np.array(ROW_HZ + COL_HZ)
# cos and sin of ωn for each block sample and frequency: block @ _BASIS is Goertzel's output
# (the single-bin DFT), real and imaginary parts side by side.
_PHASE = 2 * np.pi * np.outer(np.arange(BLOCK), _FREQS) / CARRIER_RATE
_BASIS = np.hstack((np.cos(_PHASE), np.sin(_PHASE)))
_WINDOWS = np.arange(BLOCK)[None, :] + HOP * np.arange(8)[:, None]  # sample indices of blocks 0..7
_FLOOR_MS = (DBM0_PEAK * 10 ** (FLOOR_DBM0 / 20)) ** 2 / 2  # mean square of a sine at the floor
_SILENT = b"\xff\x7f"  # μ-law's two codes for zero
_NORMAL_TWIST = 10 ** (NORMAL_TWIST_DB / 10)
_REVERSE_TWIST = 10 ** (REVERSE_TWIST_DB / 10)
_PEAK = 10 ** (RELATIVE_PEAK_DB / 10)


class DtmfDetector:
    """Feed μ-law 8 kHz audio in any chunk sizes; get back the digits completed in each chunk."""

    def __init__(self) -> None:
        self._buf: _F64 = np.zeros(0)
        self._candidate: str | None = None  # the key the last block(s) hit
        self._hits = 0
        self._held: str | None = None  # the key reported and not yet released
        self._misses = 0

    def feed(self, ulaw: bytes) -> list[str]:
        """Digits whose tone reached the minimum duration within this chunk, in order."""
        if self._idle() and not ulaw.translate(None, _SILENT):  # nothing to hear; keep calls cheap
            self._buf = np.zeros(0)
            return []
        x = np.frombuffer(ulaw_decode(ulaw), dtype="<i2").astype(np.float64)
        buf = np.concatenate((self._buf, x))
        if len(buf) < BLOCK:
            self._buf = buf
            return []
        n_blocks = (len(buf) - BLOCK) // HOP + 1
        if n_blocks > len(_WINDOWS):
            blocks = np.lib.stride_tricks.sliding_window_view(buf, BLOCK)[::HOP][:n_blocks]
        else:  # a frame's worth: one small gather beats building a strided view
            blocks = buf[_WINDOWS[:n_blocks]]
        self._buf = buf[n_blocks * HOP :]
        digits: list[str] = []
        for key in _classify(blocks):
            if digit := self._step(key):
                digits.append(digit)
        return digits

    def _idle(self) -> bool:
        return self._held is None and self._candidate is None

    def _step(self, key: str | None) -> str | None:
        if key is not None and key == self._candidate:
            self._hits += 1
        else:
            self._candidate, self._hits = key, 1 if key is not None else 0
        if self._held is not None:
            if key == self._held:
                self._misses = 0
                return None
            self._misses += 1
            if self._misses < RELEASE_MISSES:
                return None
            self._held = None
        if self._candidate is not None and self._hits >= MIN_HITS:
            self._held, self._misses = self._candidate, 0
            return self._held
        return None


def _classify(blocks: _F64) -> list[str | None]:
    """The key each block holds, or None where it fails any check.

    Only the DFT is numpy: a chunk holds a block or two, and plain floats check those faster
    than a dozen tiny array operations would.
    """
    total = np.einsum("ij,ij->i", blocks, blocks) / BLOCK  # each block's mean square
    if np.max(total) < 2 * _FLOOR_MS:  # too quiet to hold two tones above the floor
        return [None] * len(blocks)
    xy = blocks @ _BASIS  # real and imaginary parts of each frequency's single-bin DFT
    tones = 2 * (xy[:, :8] ** 2 + xy[:, 8:] ** 2) / BLOCK**2  # each tone's mean square
    return [_key(t, e) for t, e in zip(tones.tolist(), total.tolist(), strict=True)]


def _key(tone: list[float], total: float) -> str | None:
    rows, cols = tone[:4], tone[4:]
    low, high = max(rows), max(cols)
    if low < _FLOOR_MS or high < _FLOOR_MS:
        return None
    if high * _NORMAL_TWIST < low or high > low * _REVERSE_TWIST:
        return None
    if low + high < TONE_SHARE * total:
        return None
    # Each tone beats the others of its group by RELATIVE_PEAK_DB (the best one always counts).
    if sum(e * _PEAK > low for e in rows) > 1 or sum(e * _PEAK > high for e in cols) > 1:
        return None
    return KEYPAD[rows.index(low)][cols.index(high)]
