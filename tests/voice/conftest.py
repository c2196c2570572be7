"""Shared audio for voice tests: espeak-ng speech as a caller's phone line delivers it."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from callwright.voice.audio import FRAME_BYTES, CarrierDecoder, CarrierEncoder
from callwright.voice.tts.espeak import EspeakSynthesizer

PhoneSpeech = Callable[[str], bytes]


def through_phone_line(pcm16k: bytes) -> bytes:
    """16 kHz PCM → μ-law 8 kHz frames → back to 16 kHz, as the carrier edge does."""
    encoder, decoder = CarrierEncoder(), CarrierDecoder()
    frames = encoder.encode(pcm16k) + encoder.flush()
    return b"".join(decoder.decode(frame) for frame in frames)


def frames_of(pcm: bytes) -> list[bytes]:
    """20 ms frames, the unit the engine feeds a transcriber."""
    return [pcm[i : i + FRAME_BYTES] for i in range(0, len(pcm), FRAME_BYTES)]


@pytest.fixture(scope="session")
def phone_speech() -> PhoneSpeech:
    """Speak text with espeak-ng and pass it over the phone line, with 200/300 ms of padding."""
    synth = EspeakSynthesizer()

    def speak(text: str) -> bytes:
        speech = synth.synthesize_sync(text) if text else b""
        return through_phone_line(bytes(6400) + speech + bytes(9600))

    return speak
