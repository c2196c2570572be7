"""The dashboard in a real browser: Debian's headless Chromium driven by Playwright.

Playwright's own browser download is never used (nothing may be fetched at run time): the
browser is the system's ``chromium`` (``CALLWRIGHT_CHROMIUM`` names another). Without it these
tests skip with a loud reason; under ``CI=true`` they fail instead (``make test`` installs it).

The server is a real one with the voice runtime on the simulated carrier (like the e2e calls),
with one organization per test module; each test gets its own signed-in browser context.
Screenshots for docs/dashboard-tour.md are written where ``CALLWRIGHT_SCREENSHOT_DIR`` says
(``make screenshots``); otherwise into the test's temporary directory.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import VoiceServer, voice_settings
from tests.support import client_for, new_key, running_server

CHROMIUM_FLAGS = [
    # The machine's network is closed: without these Chromium keeps trying to reach Google.
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",
]


def chromium_path() -> str:
    """The system Chromium, or a skip (a failure under CI=true) that says how to get one."""
    named = os.environ.get("CALLWRIGHT_CHROMIUM")
    path = named or shutil.which("chromium") or shutil.which("chromium-browser")
    if path and Path(path).exists():
        return path
    reason = (
        "BROWSER TESTS NOT RUN: no Chromium found (install Debian's `chromium` package, which "
        "`make test` does when run as root, or set CALLWRIGHT_CHROMIUM)"
    )
    if os.environ.get("CI") == "true":
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture(scope="module")
def playwright_driver() -> Iterator[Any]:
    executable = chromium_path()
    from playwright.sync_api import sync_playwright

    # Module scope: while Playwright's sync driver runs, the main thread counts as inside an event
    # loop, which would break the ``asyncio.run`` of the tests that come after this module.
    with sync_playwright() as pw:
        pw.callwright_chromium = executable  # type: ignore[attr-defined]
        yield pw


def launch_chromium(pw: Any, extra_args: list[str] | None = None) -> Any:
    """A headless Chromium from the system; ``extra_args`` add flags (a fake microphone, say)."""
    return pw.chromium.launch(
        executable_path=pw.callwright_chromium, headless=True, args=CHROMIUM_FLAGS + (extra_args or [])
    )


@pytest.fixture(scope="module")
def browser(playwright_driver: Any) -> Iterator[Any]:
    chromium = launch_chromium(playwright_driver)
    yield chromium
    chromium.close()


MAX_SHOT_HEIGHT = 1800


class Dashboard:
    """A running server, an organization's API client and key, and a way to open signed-in pages."""

    def __init__(self, server: VoiceServer, key: str, browser: Any, shots: Path) -> None:
        self.server = server
        self.base_url = server.base_url
        self.api: httpx.Client = server.api
        self.key = key
        self.browser = browser
        self.shots = shots

    def sign_in(self, page: Any) -> None:
        page.goto(f"{self.base_url}/app/signin")
        page.fill("input[name=api_key]", self.key)
        page.click("button[type=submit]")
        page.wait_for_url(lambda url: "/app/signin" not in url)

    def screenshot(self, page: Any, name: str) -> Path:
        """A PNG for the tour (docs/dashboard-tour.md names these files): at most
        ``MAX_SHOT_HEIGHT`` pixels of the page from where it is scrolled to (a test scrolls to what
        it shows), so a long editor does not make a 7,000-pixel picture."""
        self.shots.mkdir(parents=True, exist_ok=True)
        path = self.shots / f"{name}.png"
        top, height = page.evaluate("[window.scrollY, document.documentElement.scrollHeight]")
        width = int(page.viewport_size["width"]) if page.viewport_size else 1280
        top = max(0, min(int(top), int(height) - MAX_SHOT_HEIGHT))
        clip = {"x": 0, "y": top, "width": width, "height": min(int(height) - top, MAX_SHOT_HEIGHT)}
        page.screenshot(path=str(path), full_page=True, clip=clip)
        return path


@pytest.fixture(scope="session")
def dashboard_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[VoiceServer]:
    settings = voice_settings(tmp_path_factory.mktemp("dashboard"))
    with running_server(settings) as base:
        with client_for(base, new_key(settings.database_url)) as client:
            yield VoiceServer(base, settings.database_url, client)


@pytest.fixture(scope="module")
def dashboard(
    dashboard_server: VoiceServer, browser: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Dashboard]:
    """A new organization per test module, so one module's agents and calls never show in another's."""
    key = off_loop(new_key, dashboard_server.db_url)
    shots_env = os.environ.get("CALLWRIGHT_SCREENSHOT_DIR")
    shots = Path(shots_env) if shots_env else tmp_path_factory.mktemp("screenshots")
    with client_for(dashboard_server.base_url, key) as client:
        server = VoiceServer(dashboard_server.base_url, dashboard_server.db_url, client)
        yield Dashboard(server, key, browser, shots)


@pytest.fixture
def page(dashboard: Dashboard, browser: Any) -> Iterator[Any]:
    """A signed-in page in a fresh browser context. Script errors on the page fail the test."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(15_000)
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda exc: errors.append(str(exc)))
    tab.on("dialog", lambda dialog: errors.append(f"unexpected dialog: {dialog.message}") or dialog.dismiss())
    dashboard.sign_in(tab)
    yield tab
    context.close()
    assert not errors, errors


@pytest.fixture
def anonymous_page(browser: Any) -> Iterator[Any]:
    context = browser.new_context()
    context.set_default_timeout(15_000)
    yield context.new_page()
    context.close()


ScreenshotFn = Callable[[Any, str], Path]


def off_loop(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Run a helper that calls ``asyncio.run`` (``new_key``, ``set_call_columns``): Playwright's
    sync API keeps an event loop running on the test's thread, so it runs on another thread."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(fn, *args, **kwargs).result()
