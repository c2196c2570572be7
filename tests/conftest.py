from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from callwright.services.dispatch import NoDialer
from callwright.settings import Settings
from tests.support import client_for, database_url, drop_postgres, new_key, running_server


@dataclass
class ApiServer:
    base_url: str
    db_url: str
    backend: str


@pytest.fixture(scope="session", params=["sqlite", "postgres"])
def api_server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    """The API on a real database, once per back end; nothing dials (calls stay queued)."""
    backend: str = request.param
    tmp = tmp_path_factory.mktemp(backend)
    url = database_url(backend, tmp)
    settings = Settings(database_url=url, data_dir=tmp, bootstrap_key=False, log_json=False)
    try:
        with running_server(settings, queue=NoDialer()) as base:
            yield ApiServer(base, url, backend)
    finally:
        if backend == "postgres":
            drop_postgres(url)


@pytest.fixture
def api(api_server: ApiServer) -> Iterator[httpx.Client]:
    """A client authenticated as a brand-new organization."""
    with client_for(api_server.base_url, new_key(api_server.db_url)) as client:
        yield client


@pytest.fixture
def other_org(api_server: ApiServer) -> Iterator[httpx.Client]:
    with client_for(api_server.base_url, new_key(api_server.db_url)) as client:
        yield client


@pytest.fixture
def agent(api: httpx.Client) -> dict[str, object]:
    r = api.post(
        "/v1/agents",
        json={
            "name": "Reminder",
            "first_message": "Hi {{ first_name||there }}!",
            "prompt": "You remind {{ first_name }} about {{ amount }}.",
        },
    )
    assert r.status_code == 201, r.text
    body: dict[str, object] = r.json()
    return body


def pytest_configure(config: pytest.Config) -> None:
    Path("data").mkdir(exist_ok=True)
