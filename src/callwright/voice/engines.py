"""Pick the transcriber and synthesizer an agent asks for. Providers are imported lazily so an
unused vendor SDK is never loaded."""

from __future__ import annotations

from callwright.domain.agent import TranscriberConfig, Voice
from callwright.voice.stt.base import Transcriber
from callwright.voice.tts.base import Synthesizer


class ProviderUnavailable(RuntimeError):
    """The agent names a provider this installation cannot run (not configured, or no network)."""


def build_transcriber(config: TranscriberConfig) -> Transcriber:
    if config.provider == "pocketsphinx":
        from callwright.voice.stt.pocketsphinx import PocketsphinxTranscriber

        return PocketsphinxTranscriber()
    if config.provider == "scripted":
        from callwright.voice.stt.scripted import ScriptedTranscriber

        return ScriptedTranscriber(list(config.hints) or ["yes"])
    raise ProviderUnavailable(f"transcriber provider {config.provider!r} is not available in this installation")


def build_synthesizer(voice: Voice) -> Synthesizer:
    if voice.provider == "espeak":
        from callwright.voice.tts.espeak import EspeakSynthesizer

        return EspeakSynthesizer(voice=voice.voice_id, speed=voice.speed)
    if voice.provider == "tone":
        from callwright.voice.tts.tone import ToneSynthesizer

        return ToneSynthesizer()
    raise ProviderUnavailable(f"voice provider {voice.provider!r} is not available in this installation")
