"""Which synthesizer an agent's ``voice`` builds, and where its key comes from (by reference)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError
from tests.fakes.elevenlabs_server import FakeElevenLabsServer, speech_pcm

from callwright.domain.agent import Voice
from callwright.voice.engines import ProviderUnavailable, build_synthesizer
from callwright.voice.tts.elevenlabs import ElevenLabsSynthesizer
from callwright.voice.tts.openai_speech import OpenAISpeechSynthesizer


def test_elevenlabs_takes_its_key_from_the_setting_the_agent_names() -> None:
    voice = Voice(provider="elevenlabs", voice_id="voice-1", api_key_env="ACME_XI_KEY")
    synth = build_synthesizer(voice, {"ACME_XI_KEY": "xi-acme", "ELEVENLABS_API_KEY": "xi-default"})
    assert isinstance(synth, ElevenLabsSynthesizer)
    assert synth._api_key == "xi-acme"


def test_elevenlabs_defaults_to_elevenlabs_api_key() -> None:
    synth = build_synthesizer(Voice(provider="elevenlabs", voice_id="voice-1"), {"ELEVENLABS_API_KEY": "xi-default"})
    assert isinstance(synth, ElevenLabsSynthesizer)
    assert synth._api_key == "xi-default"
    assert synth.model_id == "eleven_flash_v2_5"
    assert synth.url.startswith("wss://api.elevenlabs.io/v1/text-to-speech/voice-1/stream-input?")


def test_elevenlabs_takes_the_agents_model() -> None:
    voice = Voice(provider="elevenlabs", voice_id="voice-1", model="eleven_turbo_v2_5")
    synth = build_synthesizer(voice, {"ELEVENLABS_API_KEY": "xi"})
    assert isinstance(synth, ElevenLabsSynthesizer)
    assert synth.model_id == "eleven_turbo_v2_5"


def test_a_missing_key_is_refused_naming_the_setting() -> None:
    voice = Voice(provider="elevenlabs", voice_id="voice-1", api_key_env="ACME_XI_KEY")
    with pytest.raises(ProviderUnavailable, match="ACME_XI_KEY"):
        build_synthesizer(voice, {"ELEVENLABS_API_KEY": "xi-default"})


def test_a_missing_default_key_is_refused_naming_the_setting() -> None:
    with pytest.raises(ProviderUnavailable, match="OPENAI_API_KEY"):
        build_synthesizer(Voice(provider="openai", voice_id="nova"), {})


def test_an_empty_key_counts_as_missing() -> None:
    with pytest.raises(ProviderUnavailable, match="ELEVENLABS_API_KEY"):
        build_synthesizer(Voice(provider="elevenlabs", voice_id="voice-1"), {"ELEVENLABS_API_KEY": "  "})


def test_openai_uses_openai_api_key_and_base_url() -> None:
    env = {"OPENAI_API_KEY": "sk-default", "OPENAI_BASE_URL": "http://speech.internal:8880/v1"}
    synth = build_synthesizer(Voice(provider="openai", voice_id="nova", model="tts-1-hd"), env)
    assert isinstance(synth, OpenAISpeechSynthesizer)
    assert synth._api_key == "sk-default"
    assert synth.url == "http://speech.internal:8880/v1/audio/speech"
    assert (synth.model, synth.voice) == ("tts-1-hd", "nova")


def test_openai_defaults_to_api_openai_com_tts_1_and_alloy() -> None:
    synth = build_synthesizer(Voice(provider="openai"), {"OPENAI_API_KEY": "sk"})
    assert isinstance(synth, OpenAISpeechSynthesizer)
    assert synth.url == "https://api.openai.com/v1/audio/speech"
    assert (synth.model, synth.voice) == ("tts-1", "alloy")


def test_openai_takes_its_key_from_the_setting_the_agent_names() -> None:
    voice = Voice(provider="openai", voice_id="nova", api_key_env="SPEECH_KEY")
    synth = build_synthesizer(voice, {"SPEECH_KEY": "sk-speech", "OPENAI_API_KEY": "sk-default"})
    assert isinstance(synth, OpenAISpeechSynthesizer)
    assert synth._api_key == "sk-speech"


def test_the_process_environment_is_read_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ACME_XI_KEY", "xi-from-env")
    synth = build_synthesizer(Voice(provider="elevenlabs", voice_id="voice-1", api_key_env="ACME_XI_KEY"))
    assert isinstance(synth, ElevenLabsSynthesizer)
    assert synth._api_key == "xi-from-env"


def test_api_key_env_must_be_a_setting_name_not_a_key() -> None:
    with pytest.raises(ValidationError):
        Voice(provider="elevenlabs", voice_id="voice-1", api_key_env="sk-live 123")


async def test_a_built_elevenlabs_voice_speaks_with_the_named_key() -> None:
    async with FakeElevenLabsServer(api_key="xi-acme") as fake:
        env = {"ACME_XI_KEY": "xi-acme", "ELEVENLABS_BASE_URL": fake.base_url}
        synth = build_synthesizer(Voice(provider="elevenlabs", voice_id="voice-1", api_key_env="ACME_XI_KEY"), env)
        audio = b"".join([chunk async for chunk in synth.synthesize("Hello.")])
    assert audio == speech_pcm("Hello.")
    assert fake.connections[0].headers["xi-api-key"] == "xi-acme"
