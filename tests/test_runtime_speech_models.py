"""The open-speech model is checked when the voice runtime starts, not when a call needs it."""

from __future__ import annotations

from pathlib import Path

import pytest

from callwright.runtime import VoiceRuntime
from callwright.settings import Settings
from callwright.store.db import Database
from callwright.voice.stt import whisper
from callwright.voice.stt.base import TranscriberError


async def test_a_missing_whisper_model_directory_stops_the_runtime_at_start(tmp_path: Path) -> None:
    settings = Settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'r.db'}", data_dir=tmp_path, bootstrap_key=False,
        whisper_model_dir=tmp_path / "no-model",
    )
    db = Database(settings.database_url)
    await db.migrate()
    runtime = VoiceRuntime(settings, db)
    try:
        with pytest.raises(TranscriberError, match="no-model does not exist"):
            await runtime.start()
    finally:
        whisper.configure_default()  # back to the packaged model for the rest of the process
        await runtime.http.aclose()
        await db.dispose()
