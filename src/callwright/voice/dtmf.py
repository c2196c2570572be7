"""DTMF digits as in-band carrier audio: the agent presses phone-menu keys by playing tones.

Twilio's bidirectional Media Streams cannot send DTMF messages, and replacing the call's TwiML
ends the stream, so the agent plays real dual tones in its outbound audio instead, as a phone's
keypad would. Tones are made at the carrier rate (8 kHz) and coded straight to μ-law frames:
no resampling, so nothing smears the tone edges.

Level: -10 dBm0 per tone (so the pair peaks ~11 dB below μ-law full scale and never clips),
well inside what receivers must accept (ITU-T Q.24: down to about -25 dBm0 per tone). Tones
and pauses are at least 40 ms, the shortest a receiver is required to recognise.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from callwright.voice.audio import CARRIER_FRAME_BYTES, CARRIER_RATE, ULAW_SILENCE, FrameSplitter, ulaw_encode

ROW_HZ = (697.0, 770.0, 852.0, 941.0)
COL_HZ = (1209.0, 1336.0, 1477.0, 1633.0)
KEYPAD = ("123A", "456B", "789C", "*0#D")
"""Rows of the keypad, left to right: a key's row picks its low tone, its column the high one."""

DIGIT_TONES: dict[str, tuple[float, float]] = {
    key: (ROW_HZ[r], COL_HZ[c]) for r, row in enumerate(KEYPAD) for c, key in enumerate(row)
}
PAUSE = "w"
"""In a digit string, half a second of silence (as on a phone's dialer: wait for a menu)."""
PAUSE_MS = 500
MAX_DIGITS = 32
"""Longest string accepted (pauses count): longer is a mistake, not a phone menu."""
MIN_TONE_MS = 40

ULAW_PEAK = 32124
"""The largest PCM16 value μ-law can code (its decode of full scale)."""
DBM0_PEAK = ULAW_PEAK / 10 ** (3.17 / 20)
"""Peak of a 0 dBm0 sine in PCM16: μ-law's full-scale sine is +3.17 dBm0 (G.711)."""
TONE_DBM0 = -10.0
_RAMP_MS = 3  # raised-cosine edges: no clicks, no splatter into other tones' bins

_F64 = npt.NDArray[np.float64]


class InvalidDigits(ValueError):
    """A digit string that cannot be keyed; the message says what is wrong."""


def normalize_digits(digits: str) -> str:
    """The string to key: spaces and dashes dropped, A-D upper-cased, ``W`` as ``w``; validated.

    Raises ``InvalidDigits`` for an empty string, one without any key, one longer than
    ``MAX_DIGITS``, or any character other than ``0-9 * # A-D w``.
    """
    cleaned = "".join(ch for ch in digits if not ch.isspace() and ch != "-")
    out = "".join(PAUSE if ch in "wW" else ch.upper() if ch in "abcd" else ch for ch in cleaned)
    if not out:
        raise InvalidDigits("no digits to press: the string is empty")
    bad = sorted({ch for ch in out if ch != PAUSE and ch not in DIGIT_TONES})
    if bad:
        raise InvalidDigits(
            f"cannot press {', '.join(repr(ch) for ch in bad)} in {digits!r}: "
            "keys are 0-9, *, #, A-D, and w for a half-second pause"
        )
    if len(out) > MAX_DIGITS:
        raise InvalidDigits(f"too many digits: {len(out)} (at most {MAX_DIGITS}, pauses included)")
    if out.strip(PAUSE) == "":
        raise InvalidDigits(f"no digits to press in {digits!r}: only pauses")
    return out


def dtmf_frames(digits: str, *, tone_ms: int = 100, gap_ms: int = 100) -> list[bytes]:
    """``digits`` as 20 ms μ-law 8 kHz frames: each key's tone for ``tone_ms``, then ``gap_ms`` quiet.

    The last key's gap is kept, so a detector hears the release before whatever follows.
    Raises ``InvalidDigits`` (see :func:`normalize_digits`), or ``ValueError`` for a tone or
    gap shorter than 40 ms (receivers need not recognise those).
    """
    keys = normalize_digits(digits)
    if tone_ms < MIN_TONE_MS or gap_ms < MIN_TONE_MS:
        raise ValueError(f"tone_ms and gap_ms must be at least {MIN_TONE_MS} ms (got {tone_ms}, {gap_ms})")
    gap = np.zeros(_samples(gap_ms))
    parts: list[_F64] = []
    for key in keys:
        if key == PAUSE:
            parts.append(np.zeros(_samples(PAUSE_MS)))
        else:
            parts.extend((_dual_tone(*DIGIT_TONES[key], _samples(tone_ms)), gap))
    pcm = np.clip(np.rint(np.concatenate(parts)), -32768, 32767).astype("<i2").tobytes()
    splitter = FrameSplitter(CARRIER_FRAME_BYTES, pad=ULAW_SILENCE)
    return splitter.push(ulaw_encode(pcm)) + splitter.flush()


def _samples(ms: int) -> int:
    return round(CARRIER_RATE * ms / 1000)


def _dual_tone(low_hz: float, high_hz: float, n: int) -> _F64:
    amplitude = DBM0_PEAK * 10 ** (TONE_DBM0 / 20)
    t = np.arange(n) / CARRIER_RATE
    x: _F64 = amplitude * (np.sin(2 * np.pi * low_hz * t) + np.sin(2 * np.pi * high_hz * t))
    ramp = min(n // 2, _samples(_RAMP_MS))
    if ramp:
        edge = 0.5 - 0.5 * np.cos(np.pi * np.arange(ramp) / ramp)
        x[:ramp] *= edge
        x[n - ramp :] *= edge[::-1]
    return x
