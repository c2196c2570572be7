"""Remote speech providers in whole phone calls over the simulated carrier: a Deepgram listener and
an ElevenLabs voice (local servers speaking their real protocols), and a voice that fails mid-call
handing over to the embedded one, recorded on the conversation."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.e2e.conftest import VoiceServer, voice_settings
from tests.fakes.deepgram_server import FakeDeepgramServer
from tests.fakes.elevenlabs_server import Behaviour, FakeElevenLabsServer
from tests.support import client_for, new_key, running_server

from callwright.demo import DEMO_FLOW


def server_with(environ: dict[str, str], tmp: Path) -> Iterator[VoiceServer]:
    """A voice server started with ``environ`` set (provider keys are read from the environment)."""
    saved = {k: os.environ.get(k) for k in environ}
    os.environ.update(environ)
    try:
        settings = voice_settings(tmp)
        with running_server(settings) as base:
            with client_for(base, new_key(settings.database_url)) as client:
                yield VoiceServer(base, settings.database_url, client)
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@pytest.fixture(scope="module")
def voice_provider() -> Iterator[FakeElevenLabsServer]:
    with FakeElevenLabsServer(api_key="xi-e2e") as fake:
        yield fake


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, voice_provider: FakeElevenLabsServer) -> Iterator[VoiceServer]:
    keys = {"ELEVENLABS_API_KEY": "xi-e2e", "ELEVENLABS_BASE_URL": voice_provider.base_url}
    yield from server_with(keys, tmp_path_factory.mktemp("voice-fallback"))


def test_a_voice_provider_that_fails_mid_call_hands_over_to_espeak_and_the_call_records_it(
    server: VoiceServer, voice_provider: FakeElevenLabsServer
) -> None:
    voice_provider.script(Behaviour.speak(), Behaviour.drop_after(1))
    voice_provider.default = Behaviour.speak()
    r = server.api.post("/v1/agents", json={
        "name": "Remote voice", "dialogue": {"engine": "flow", "flow": DEMO_FLOW},
        "voice": {"provider": "elevenlabs", "voice_id": "voice-1"}, "end_call_after_silence_s": 6,
    })
    assert r.status_code == 201, r.text
    r = server.api.post("/v1/calls", json={
        "agent_id": r.json()["id"], "to": "+15550100001",
        "simulated_callee": {"says": ["yes"], "dtmf": {"verify": "4567"}},
    })
    assert r.status_code == 201, r.text
    call: dict[str, Any] = server.wait_for_end(r.json()["id"])
    assert call["status"] == "completed", call
    (fallback,) = call["results"]["provider_fallbacks"]
    assert (fallback["kind"], fallback["provider"], fallback["fallback"]) == ("voice", "elevenlabs", "espeak")
    assert call["results"]["confirmed"] is True
    # The provider heard the sentence that failed and at most the one synthesized ahead of it
    # (the playout prefetches one): the rest of the call was espeak's.
    assert 2 <= len(voice_provider.connections) <= 3


@pytest.fixture(scope="module")
def listener_provider() -> Iterator[FakeDeepgramServer]:
    with FakeDeepgramServer(api_key="dg-e2e") as fake:
        yield fake


@pytest.fixture(scope="module")
def remote_speech_server(
    tmp_path_factory: pytest.TempPathFactory,
    voice_provider: FakeElevenLabsServer,
    listener_provider: FakeDeepgramServer,
) -> Iterator[VoiceServer]:
    keys = {
        "ELEVENLABS_API_KEY": "xi-e2e", "ELEVENLABS_BASE_URL": voice_provider.base_url,
        "DEEPGRAM_API_KEY": "dg-e2e", "DEEPGRAM_BASE_URL": listener_provider.base_url,
    }
    yield from server_with(keys, tmp_path_factory.mktemp("remote-speech"))


def test_a_whole_call_runs_on_a_deepgram_listener_and_an_elevenlabs_voice(
    remote_speech_server: VoiceServer, voice_provider: FakeElevenLabsServer, listener_provider: FakeDeepgramServer
) -> None:
    voice_provider.script()
    voice_provider.default = Behaviour.speak()
    listener_provider.transcript = ("yes",)
    before_voice, before_listener = len(voice_provider.connections), len(listener_provider.connections)
    r = remote_speech_server.api.post("/v1/agents", json={
        "name": "Remote speech", "dialogue": {"engine": "flow", "flow": DEMO_FLOW},
        "voice": {"provider": "elevenlabs", "voice_id": "voice-1"},
        "transcriber": {"provider": "deepgram"}, "end_call_after_silence_s": 6,
    })
    assert r.status_code == 201, r.text
    r = remote_speech_server.api.post("/v1/calls", json={
        "agent_id": r.json()["id"], "to": "+15550100001",
        "simulated_callee": {"says": ["yes"], "dtmf": {"verify": "4567"}},
    })
    assert r.status_code == 201, r.text
    call: dict[str, Any] = remote_speech_server.wait_for_end(r.json()["id"])
    assert call["status"] == "completed", call
    assert call["results"]["confirmed"] is True and call["results"]["verification_code"] == "4567"
    assert "provider_fallbacks" not in call["results"]
    assert len(listener_provider.connections) > before_listener  # the caller's "yes" went to Deepgram
    assert len(voice_provider.connections) > before_voice  # every agent sentence came from ElevenLabs
    assert next(t["text"] for t in call["transcript"] if t["role"] == "user") == "yes"
