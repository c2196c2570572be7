"""Pick the transcriber and synthesizer an agent asks for. Providers are imported lazily so an
unused vendor SDK is never loaded."""

from __future__ import annotations

import os
from collections.abc import Mapping

from callwright.domain.agent import TranscriberConfig, Voice
from callwright.voice.stt.base import Transcriber
from callwright.voice.tts.base import Synthesizer


class ProviderUnavailable(RuntimeError):
    """The agent names a provider this installation cannot run (not configured, or no network)."""


REMOTE_TRANSCRIBERS = frozenset({"deepgram", "openai"})


def build_transcriber(config: TranscriberConfig, environ: Mapping[str, str] | None = None) -> Transcriber:
    """``auto`` (the default): pocketsphinx under small grammars, Whisper for open speech;
    ``whisper`` or ``pocketsphinx``: that recogniser for every turn; ``deepgram`` and ``openai``
    take their key from the setting ``transcriber.api_key_env`` names, looked up in ``environ``."""
    env = os.environ if environ is None else environ
    if config.provider == "deepgram":
        from callwright.voice.stt.deepgram import DEFAULT_BASE_URL as DEEPGRAM_URL
        from callwright.voice.stt.deepgram import DEFAULT_MODEL as DEEPGRAM_MODEL
        from callwright.voice.stt.deepgram import DeepgramTranscriber

        return DeepgramTranscriber(
            api_key=_key("transcriber", config, "DEEPGRAM_API_KEY", env),
            base_url=env.get("DEEPGRAM_BASE_URL") or DEEPGRAM_URL,
            model=config.model or DEEPGRAM_MODEL,
            language=config.language,
            sample_rate=8000,  # the line's own audio: no upsampling before the network
            hints=config.hints,
        )
    if config.provider == "openai":
        from callwright.voice.stt.openai_transcribe import DEFAULT_BASE_URL as OPENAI_URL
        from callwright.voice.stt.openai_transcribe import DEFAULT_MODEL as OPENAI_MODEL
        from callwright.voice.stt.openai_transcribe import OpenAITranscriber

        return OpenAITranscriber(
            api_key=_key("transcriber", config, "OPENAI_API_KEY", env),
            base_url=env.get("OPENAI_TRANSCRIPTION_BASE_URL") or env.get("OPENAI_BASE_URL") or OPENAI_URL,
            model=config.model or OPENAI_MODEL,
            language=config.language,  # "en-US" is sent as "en"
            sample_rate=8000,
            hints=config.hints,
        )
    if config.provider == "auto":
        from callwright.voice.stt.pocketsphinx import PocketsphinxTranscriber
        from callwright.voice.stt.routing import RoutingTranscriber
        from callwright.voice.stt.whisper import WhisperTranscriber

        return RoutingTranscriber(PocketsphinxTranscriber(), WhisperTranscriber())
    if config.provider == "whisper":
        from callwright.voice.stt.whisper import WhisperTranscriber

        return WhisperTranscriber()
    if config.provider == "pocketsphinx":
        from callwright.voice.stt.pocketsphinx import PocketsphinxTranscriber

        return PocketsphinxTranscriber()
    if config.provider == "scripted":
        from callwright.voice.stt.scripted import ScriptedTranscriber

        return ScriptedTranscriber(list(config.hints) or ["yes"])
    raise ProviderUnavailable(f"transcriber provider {config.provider!r} is not available in this installation")


def _key(kind: str, config: TranscriberConfig | Voice, default_setting: str, environ: Mapping[str, str]) -> str:
    """The key in the setting the agent names (``api_key_env``), or in the provider's usual one."""
    setting = config.api_key_env or default_setting
    key = environ.get(setting, "").strip()
    if not key:
        raise ProviderUnavailable(
            f"{kind} provider {config.provider!r} needs an API key in the setting {setting}, "
            "which is not set on the Callwright server"
        )
    return key


def build_synthesizer(voice: Voice, environ: Mapping[str, str] | None = None) -> Synthesizer:
    """The agent's voice. Remote providers take their key from the setting ``voice.api_key_env``
    names (the provider's usual variable when absent), looked up in ``environ`` (the process
    environment by default)."""
    env = os.environ if environ is None else environ
    if voice.provider == "elevenlabs":
        from callwright.voice.tts.elevenlabs import DEFAULT_BASE_URL, DEFAULT_MODEL, ElevenLabsSynthesizer

        return ElevenLabsSynthesizer(
            api_key=_key("voice", voice, "ELEVENLABS_API_KEY", env),
            voice_id=voice.voice_id,
            model_id=voice.model or DEFAULT_MODEL,
            base_url=env.get("ELEVENLABS_BASE_URL") or DEFAULT_BASE_URL,
            speed=voice.speed,
        )
    if voice.provider == "openai":
        from callwright.voice.tts.openai_speech import DEFAULT_BASE_URL as OPENAI_URL
        from callwright.voice.tts.openai_speech import OpenAISpeechSynthesizer

        default_voice = Voice.model_fields["voice_id"].default
        return OpenAISpeechSynthesizer(
            api_key=_key("voice", voice, "OPENAI_API_KEY", env),
            base_url=env.get("OPENAI_BASE_URL") or OPENAI_URL,
            model=voice.model or "tts-1",
            voice="alloy" if voice.voice_id == default_voice else voice.voice_id,  # "en-us" is espeak's
            speed=voice.speed,
        )
    if voice.provider == "espeak":
        from callwright.voice.tts.espeak import EspeakSynthesizer

        return EspeakSynthesizer(voice=voice.voice_id, speed=voice.speed)
    if voice.provider == "tone":
        from callwright.voice.tts.tone import ToneSynthesizer

        return ToneSynthesizer()
    raise ProviderUnavailable(f"voice provider {voice.provider!r} is not available in this installation")
