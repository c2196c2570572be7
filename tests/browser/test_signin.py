"""Signing in to the dashboard in a real browser: an API key becomes a session cookie the page's
scripts cannot read, and signing out ends it."""

from __future__ import annotations

from typing import Any

from tests.browser.conftest import Dashboard


def test_signing_in_with_an_api_key_opens_the_dashboard(dashboard: Dashboard, anonymous_page: Any) -> None:
    anonymous_page.goto(f"{dashboard.base_url}/app/agents")
    assert "/app/signin" in anonymous_page.url
    dashboard.screenshot(anonymous_page, "signin")
    dashboard.sign_in(anonymous_page)
    assert anonymous_page.url.startswith(f"{dashboard.base_url}/app")
    assert anonymous_page.locator("nav").get_by_text("Agents").count() >= 1


def test_the_session_cookie_is_invisible_to_page_scripts(page: Any) -> None:
    assert page.evaluate("document.cookie") == ""
    cookies = page.context.cookies()
    assert cookies and all(c["httpOnly"] and c["sameSite"] == "Lax" for c in cookies), cookies


def test_a_wrong_key_is_refused_with_a_message(dashboard: Dashboard, anonymous_page: Any) -> None:
    anonymous_page.goto(f"{dashboard.base_url}/app/signin")
    anonymous_page.fill("input[name=api_key]", "cw_live_not_a_real_key")
    anonymous_page.click("button[type=submit]")
    assert "/app/signin" in anonymous_page.url
    assert anonymous_page.locator(".error").is_visible()


def test_signing_out_ends_the_session(dashboard: Dashboard, page: Any) -> None:
    page.get_by_role("button", name="Sign out").click()
    page.goto(f"{dashboard.base_url}/app/calls")
    assert "/app/signin" in page.url
