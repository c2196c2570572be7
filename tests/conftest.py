from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from callwright.services.dispatch import NoDialer
from callwright.settings import Settings
from tests.support import client_for, database_url, drop_postgres, new_key, running_server

# Saving a customer URL looks its host up (services/url_check.py) and accepts it when the resolver
# gives no answer within 5 s. A sandbox's resolver may drop queries, and fuzzed hosts ("0.com")
# then cost those 5 s each (31 of them were 155 s of the contract run). glibc gives up after 1 s
# instead; the lookup still happens and "no answer" is still the outcome the product accepts.
# Set before any lookup, so servers in this process and every child process inherit it.
os.environ.setdefault("RES_OPTIONS", "timeout:1 attempts:1")


@dataclass
class ApiServer:
    base_url: str
    db_url: str
    backend: str


def _api_server(backend: str, tmp_path_factory: pytest.TempPathFactory, **settings: object) -> Iterator[ApiServer]:
    tmp = tmp_path_factory.mktemp(backend)
    url = database_url(backend, tmp)
    config = Settings(database_url=url, data_dir=tmp, bootstrap_key=False, log_json=False, **settings)  # type: ignore[arg-type]
    try:
        with running_server(config, queue=NoDialer()) as base:
            yield ApiServer(base, url, backend)
    finally:
        if backend == "postgres":
            drop_postgres(url)


@pytest.fixture(scope="session", params=["sqlite", "postgres"])
def api_server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    """The API on a real database, once per back end; nothing dials (calls stay queued)."""
    yield from _api_server(request.param, tmp_path_factory)


@pytest.fixture(scope="session", params=["sqlite", "postgres"])
def private_urls_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ApiServer]:
    """The same, with customer URLs allowed to reach loopback (``CALLWRIGHT_ALLOW_PRIVATE_URLS``),
    for tests against a local endpoint."""
    yield from _api_server(request.param, tmp_path_factory, allow_private_urls=True)


@pytest.fixture
def api(api_server: ApiServer) -> Iterator[httpx.Client]:
    """A client authenticated as a brand-new organization."""
    with client_for(api_server.base_url, new_key(api_server.db_url)) as client:
        yield client


@pytest.fixture
def private_api(private_urls_server: ApiServer) -> Iterator[httpx.Client]:
    """A new organization's client on the server that lets customer URLs reach loopback."""
    with client_for(private_urls_server.base_url, new_key(private_urls_server.db_url)) as client:
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
