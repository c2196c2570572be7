"""The OpenAPI document is the contract: schemathesis, run from outside against a real
``callwright serve``, finds no failure of any kind.

The server runs as a subprocess on a free port with a fresh SQLite database and no voice runtime
(nothing dials). The schemathesis CLI reads ``/openapi.json`` and runs every check (``--checks
all``) through its phases: examples, coverage (boundary and invalid values of each field), fuzzing
and stateful (chains such as ``POST /v1/agents`` -> ``PATCH``/``chat``/``DELETE`` of the agent it
made), deterministically, so a failure reproduces.

What the run is told beyond the document, and why, lives next to it:
``tests/openapi_contract_hooks.py`` (the ``phone`` format, and the one check added: a 422 for
schema-valid data must name a rule JSON Schema cannot state) and ``tests/openapi_contract.toml``
(the operations that may answer schema-valid data with such a 422, and one check that does not
apply to one operation, each with its reason).

Run just this: ``pytest -m fuzz tests/test_openapi_contract.py`` (about two minutes on 2 cores).
``CALLWRIGHT_CONTRACT_EXAMPLES`` (default 20) sets the examples per operation for a deeper run.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.support import free_port

pytestmark = pytest.mark.fuzz

HERE = Path(__file__).parent
BIN = Path(sys.executable).parent
EXAMPLES = int(os.environ.get("CALLWRIGHT_CONTRACT_EXAMPLES", "20"))
# Not for users (API.md): the carrier's routes, and the Prometheus scrape endpoint.
NOT_FOR_USERS = r"^/(carrier|metrics)"


@dataclass
class Server:
    base_url: str
    key: str
    log: Path


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    tmp = tmp_path_factory.mktemp("contract")
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite+aiosqlite:///{tmp / 'cw.db'}",
        "CALLWRIGHT_DATA_DIR": str(tmp),
        "CALLWRIGHT_RUN_VOICE": "false",
        "CALLWRIGHT_BOOTSTRAP_KEY": "false",
        "CALLWRIGHT_LOG_JSON": "false",
        "CALLWRIGHT_LOG_LEVEL": "WARNING",
    }
    created = subprocess.run(
        [BIN / "callwright", "keys", "create", "--org", "fuzz"],
        env=env, cwd=tmp, capture_output=True, text=True, timeout=120, check=True,
    )
    key = created.stdout.strip().splitlines()[-1]
    port = free_port()
    log = tmp / "server.log"
    with log.open("w") as out:
        server = subprocess.Popen(
            [BIN / "callwright", "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=env, cwd=tmp, stdout=out, stderr=subprocess.STDOUT,
        )
    base_url = f"http://127.0.0.1:{port}"
    try:
        _wait_for_health(base_url, server, log)
        # One agent from the start, so a call that names none gets past "no agent yet" (409).
        r = httpx.post(f"{base_url}/v1/agents", json={"name": "Contract", "first_message": "Hi {{ first_name }}"},
                       headers={"Authorization": f"Bearer {key}"}, timeout=30)
        assert r.status_code == 201, r.text
        yield Server(base_url, key, log)
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()


def _wait_for_health(base_url: str, server: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"callwright serve exited with {server.returncode}:\n{log.read_text()}")
        try:
            if httpx.get(f"{base_url}/healthz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    pytest.fail(f"callwright serve was not healthy within 60 s:\n{log.read_text()}")


def test_schemathesis_finds_no_failure_against_a_running_server(
    served: Server, tmp_path: Path
) -> None:
    command = [
        str(BIN / "schemathesis"), "--config-file", str(HERE / "openapi_contract.toml"),
        "run", f"{served.base_url}/openapi.json",
        "--checks", "all",
        # DELETE on an agent archives it; the agent and its versions stay readable by design
        # (openapi_contract.toml says why), and the stateful phase applies this check to them.
        "--exclude-checks", "use_after_free",
        "--header", f"Authorization: Bearer {served.key}",
        "--phases", "examples,coverage,fuzzing,stateful",
        "--generation-deterministic",  # a fixed derivation of every case (no seed, no example database)
        "--max-examples", str(EXAMPLES),
        "--exclude-path-regex", NOT_FOR_USERS,
        "--workers", "1",
        "--request-timeout", "30",
        "--no-color",
    ]
    env = {**os.environ, "SCHEMATHESIS_HOOKS": str(HERE / "openapi_contract_hooks.py")}
    run = subprocess.run(command, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=900)
    if run.returncode != 0:
        server_log = served.log.read_text()[-5000:]
        pytest.fail(
            f"schemathesis exited with {run.returncode}\n{run.stdout}\n{run.stderr}\n"
            f"--- server log (tail) ---\n{server_log}",
            pytrace=False,
        )
