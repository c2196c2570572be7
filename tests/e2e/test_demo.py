"""`callwright demo`, the README's first command, on a fresh data directory: it exits 0 and shows
a conversation in which an open-speech answer was understood offline."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.support import free_port

from callwright.demo import DEMO_REASON_ANSWER


def test_the_demo_call_completes_and_shows_an_open_speech_answer_understood_offline(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "CALLWRIGHT_DATA_DIR": str(tmp_path / "data"),
        "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'demo.db'}",
        "CALLWRIGHT_PORT": str(free_port()),
        "CALLWRIGHT_CALLEE_VOICE": "espeak",  # what `make run` has: the Piper extra is for tests
        "COLUMNS": "200",
    }
    done = subprocess.run(
        [sys.executable, "-m", "callwright.cli", "demo"],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=180,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    out = " ".join(done.stdout.split())
    assert "Call ended: completed" in out, out[-3000:]
    assert "understood offline" in out, out[-3000:]
    assert "reschedule_reason" in out
    heard = out.split("heard as", 1)[1].lower()
    assert "married" in heard and "monday" in heard, out[-3000:]
    assert DEMO_REASON_ANSWER.split()[1] in out.lower()  # "sister"
