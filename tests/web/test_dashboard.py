"""The dashboard at /app: sign-in with an API key, sessions, CSRF, organization scoping and
escaping, against a real running server (calls stay queued: nothing dials)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import httpx
import pytest

from tests.conftest import ApiServer
from tests.context_endpoint import ContextEndpoint
from tests.support import client_for, new_key, set_call_columns

SCRIPT = "<script>alert(1)</script>"


def csrf_of(html: str) -> str:
    match = re.search(r'<meta name="csrf-token" content="([^"]*)">', html)
    assert match, "the page carries no CSRF token"
    return match.group(1)


def signin_token(browser: httpx.Client) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', browser.get("/app/signin").text)
    assert match, "the sign-in form carries no CSRF token"
    return match.group(1)


def sign_in(base_url: str, key: str) -> httpx.Client:
    browser = httpx.Client(base_url=base_url, timeout=30)
    r = browser.post("/app/signin", data={"api_key": key, "csrf_token": signin_token(browser)})
    assert r.status_code == 303, r.text
    assert r.headers["location"] == "/app/calls"
    cookie = r.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie
    return browser


@pytest.fixture
def key(api_server: ApiServer) -> str:
    return new_key(api_server.db_url)


@pytest.fixture
def api(api_server: ApiServer, key: str) -> Iterator[httpx.Client]:
    with client_for(api_server.base_url, key) as client:
        yield client


@pytest.fixture
def browser(api_server: ApiServer, key: str) -> Iterator[httpx.Client]:
    with closing(sign_in(api_server.base_url, key)) as client:
        yield client


@pytest.fixture
def agent(api: httpx.Client) -> dict[str, str]:
    r = api.post("/v1/agents", json={"name": "Reminder", "first_message": "Hi {{ first_name||there }}!",
                                      "prompt": "You remind {{ first_name }} about {{ amount }}."})
    assert r.status_code == 201, r.text
    body: dict[str, str] = r.json()
    return body


def test_a_valid_api_key_signs_in_and_a_bad_one_is_refused(api_server: ApiServer, key: str) -> None:
    with httpx.Client(base_url=api_server.base_url, timeout=30) as anonymous:
        assert anonymous.get("/app/calls").status_code == 303  # to the sign-in page
        assert anonymous.get("/app/signin").status_code == 200
        token = signin_token(anonymous)
        bad = anonymous.post("/app/signin", data={"api_key": "cw_live_not-a-key", "csrf_token": token})
        assert bad.status_code == 401
        assert "not valid" in bad.text
        assert "cw_dashboard" not in bad.headers.get("set-cookie", "")
        # A sign-in form posted from elsewhere (no token of this browser) is refused even with a good key.
        assert anonymous.post("/app/signin", data={"api_key": key}).status_code == 403
        assert anonymous.post("/app/signin", data={"api_key": key, "csrf_token": "forged"}).status_code == 403
    with closing(sign_in(api_server.base_url, key)) as browser:
        page = browser.get("/app/calls")
        assert page.status_code == 200
        assert "default-src 'self'" in page.headers["content-security-policy"]


def test_the_pages_render_for_an_agent_and_a_call(
    browser: httpx.Client, api: httpx.Client, agent: dict[str, str]
) -> None:
    call = api.post("/v1/calls", json={"agent_id": agent["id"], "to": "+14155552671"}).json()
    for path in ("/app/agents", f"/app/agents/{agent['id']}", "/app/calls", f"/app/calls/{call['id']}",
                 "/app/calls/new", "/app/campaigns", "/app/analytics", "/app/analytics?group_by=day",
                 f"/app/calls?status=queued&agent_id={agent['id']}&call_source=api&created_after=2020-01-01"):
        r = browser.get(path)
        assert r.status_code == 200, (path, r.text[:500])
    assert "Reminder" in browser.get("/app/agents").text
    assert call["id"] in browser.get("/app/calls").text
    assert browser.get("/app/static/app.js").status_code == 200
    assert browser.get("/app/static/..%2Fpages.py").status_code == 404


def test_a_campaign_page_shows_its_rows_and_its_buttons_work(
    browser: httpx.Client, api: httpx.Client, agent: dict[str, str]
) -> None:
    campaign = api.post("/v1/campaigns", json={"name": "Spring", "agent_id": agent["id"]}).json()
    csv = f"phone_number,first_name\n+14155552690,{SCRIPT}\n"
    r = api.post(f"/v1/campaigns/{campaign['id']}/contacts", content=csv, headers={"Content-Type": "text/csv"})
    assert r.status_code < 300, r.text
    page = browser.get(f"/app/campaigns/{campaign['id']}")
    assert page.status_code == 200
    assert SCRIPT not in page.text and "&lt;script&gt;" in page.text
    r = browser.post(f"/app/campaigns/{campaign['id']}/start", data={"csrf_token": csrf_of(page.text)})
    assert r.status_code == 303
    assert api.get(f"/v1/campaigns/{campaign['id']}").json()["status"] != "draft"


def test_another_organizations_session_sees_none_of_this_ones_records(
    api_server: ApiServer, api: httpx.Client, agent: dict[str, str]
) -> None:
    call = api.post("/v1/calls", json={"agent_id": agent["id"], "to": "+14155552672"}).json()
    with closing(sign_in(api_server.base_url, new_key(api_server.db_url))) as stranger:
        assert "Reminder" not in stranger.get("/app/agents").text
        assert call["id"] not in stranger.get("/app/calls").text
        assert stranger.get(f"/app/agents/{agent['id']}").status_code == 404
        assert stranger.get(f"/app/calls/{call['id']}").status_code == 404
        assert stranger.get(f"/app/calls/{call['id']}/events").status_code == 404
        token = csrf_of(stranger.get("/app/agents").text)
        r = stranger.post(f"/app/agents/{agent['id']}", data={"csrf_token": token, "name": "Stolen"})
        assert r.status_code == 404
    assert api.get(f"/v1/agents/{agent['id']}").json()["name"] == "Reminder"


def test_a_post_without_or_with_a_forged_csrf_token_is_refused_and_changes_nothing(
    browser: httpx.Client, api: httpx.Client, agent: dict[str, str]
) -> None:
    for data in ({"name": "Changed"}, {"name": "Changed", "csrf_token": "forged"}):
        r = browser.post(f"/app/agents/{agent['id']}", data=data)
        assert r.status_code == 403
    r = browser.post(f"/app/agents/{agent['id']}/preview", data={"prompt": "x"}, headers={"X-CSRF-Token": "forged"})
    assert r.status_code == 403
    assert browser.post("/app/calls", data={"agent_id": agent["id"], "to": "+14155552673"}).status_code == 403
    assert browser.post("/app/signout", data={}).status_code == 403
    assert api.get(f"/v1/agents/{agent['id']}").json()["name"] == "Reminder"
    assert api.get("/v1/conversations").json()["data"] == []


def test_the_agent_form_saves_a_new_version_and_the_preview_renders_sample_variables(
    browser: httpx.Client, api: httpx.Client, agent: dict[str, str]
) -> None:
    token = csrf_of(browser.get(f"/app/agents/{agent['id']}").text)
    preview = browser.post(
        f"/app/agents/{agent['id']}/preview",
        data={"prompt": "Call {{ first_name }}.", "first_message": "Hi {{ nobody||there }}",
              "variables": '{"first_name": "Ana"}'},
        headers={"X-CSRF-Token": token},
    ).json()
    assert preview["prompt"] == {"text": "Call Ana.", "error": None}
    assert preview["first_message"]["text"] == "Hi there"
    r = browser.post(f"/app/agents/{agent['id']}", data={
        "csrf_token": token, "name": "Renamed", "prompt": "New prompt", "first_message": "Hello"})
    assert r.status_code == 303
    saved = api.get(f"/v1/agents/{agent['id']}").json()
    assert (saved["name"], saved["prompt"], saved["first_message"]) == ("Renamed", "New prompt", "Hello")
    assert saved["version"] == 2
    bad = browser.post(f"/app/agents/{agent['id']}", data={"csrf_token": token, "name": "", "prompt": "p"})
    assert bad.status_code == 422


def test_sign_out_ends_the_session(browser: httpx.Client) -> None:
    token = csrf_of(browser.get("/app/agents").text)
    r = browser.post("/app/signout", data={"csrf_token": token})
    assert r.status_code == 303 and r.headers["location"] == "/app/signin"
    assert browser.get("/app/agents").status_code == 303


def test_a_stolen_cookie_stops_working_after_sign_out(api_server: ApiServer, key: str) -> None:
    browser = sign_in(api_server.base_url, key)
    cookies = dict(browser.cookies)
    token = csrf_of(browser.get("/app/agents").text)
    browser.post("/app/signout", data={"csrf_token": token})
    with httpx.Client(base_url=api_server.base_url, cookies=cookies, timeout=30) as thief:
        assert thief.get("/app/agents").status_code == 303


def test_user_text_is_escaped_in_agent_names_and_transcripts(
    api_server: ApiServer, browser: httpx.Client, api: httpx.Client
) -> None:
    agent = api.post("/v1/agents", json={"name": SCRIPT, "prompt": "Hello"}).json()
    call = api.post("/v1/calls", json={"agent_id": agent["id"], "to": "+14155552674"}).json()
    set_call_columns(api_server.db_url, call["id"], transcript=[
        {"role": "user", "text": f"my name is {SCRIPT}", "start_ms": 0, "end_ms": 900}])
    for path in ("/app/agents", f"/app/agents/{agent['id']}", "/app/calls", f"/app/calls/{call['id']}"):
        html = browser.get(path).text
        assert SCRIPT not in html, path
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html, path


def test_call_a_number_creates_a_call_from_the_dashboard(
    browser: httpx.Client, api: httpx.Client, agent: dict[str, str]
) -> None:
    token = csrf_of(browser.get("/app/calls/new").text)
    r = browser.post("/app/calls", data={
        "csrf_token": token, "agent_id": agent["id"], "to": "+14155552675", "variables": '{"first_name": "Ana"}'})
    assert r.status_code == 303, r.text
    calls = api.get("/v1/conversations", params={"call_source": "dashboard"}).json()["data"]
    assert len(calls) == 1
    assert r.headers["location"] == f"/app/calls/{calls[0]['id']}"
    assert (calls[0]["to"], calls[0]["variables"]["first_name"]) == ("+14155552675", "Ana")
    refused = browser.post("/app/calls", data={"csrf_token": token, "agent_id": agent["id"], "to": "not a number"})
    assert refused.status_code == 422


def test_the_live_view_streams_the_transcript_and_ends_with_the_call(
    api_server: ApiServer, browser: httpx.Client, api: httpx.Client, agent: dict[str, str]
) -> None:
    call = api.post("/v1/calls", json={"agent_id": agent["id"], "to": "+14155552676"}).json()
    set_call_columns(api_server.db_url, call["id"], status="completed", transcript=[
        {"role": "agent", "text": "Hi there!", "start_ms": 0, "end_ms": 900}])
    with browser.stream("GET", f"/app/calls/{call['id']}/events") as r:
        assert r.headers["content-type"].startswith("text/event-stream")
        body = "".join(r.iter_text())
    assert "event: turn" in body and '"index": 0' in body and "Hi there!" in body
    assert "event: transcript" in body
    assert body.rstrip().endswith('data: {"status": "completed"}')


def test_a_campaign_is_created_from_the_form_and_a_csv_upload_reports_every_row(
    browser: httpx.Client, api: httpx.Client, agent: dict[str, str]
) -> None:
    token = csrf_of(browser.get("/app/campaigns").text)
    r = browser.post("/app/campaigns", data={"csrf_token": token, "name": "Autumn", "agent_id": agent["id"],
                                             "max_concurrency": "2"})
    assert r.status_code == 303, r.text
    campaign_id = r.headers["location"].rsplit("/", 1)[1]
    campaign = api.get(f"/v1/campaigns/{campaign_id}").json()
    assert (campaign["name"], campaign["max_concurrency"]) == ("Autumn", 2)
    csv = f"phone_number,first_name\n+14155552691,Ana\nnot-a-number,{SCRIPT}\n".encode()
    page = browser.post(f"/app/campaigns/{campaign_id}/contacts", data={"csrf_token": token},
                        files={"file": ("leads.csv", csv, "text/csv")})
    assert page.status_code == 200, page.text
    assert "Accepted 1 of 2 rows" in page.text
    assert SCRIPT not in page.text
    forged = browser.post(f"/app/campaigns/{campaign_id}/contacts", data={"csrf_token": "forged"},
                          files={"file": ("leads.csv", b"phone_number\n+14155552692\n", "text/csv")})
    assert forged.status_code == 403
    assert api.get(f"/v1/campaigns/{campaign_id}").json()["progress"]["total"] == 1
    bad = browser.post("/app/campaigns", data={"csrf_token": token, "name": "", "agent_id": agent["id"]})
    assert bad.status_code == 422


def test_the_recording_plays_for_its_own_organization_only(
    api_server: ApiServer, browser: httpx.Client, api: httpx.Client, agent: dict[str, str], tmp_path: Path
) -> None:
    call = api.post("/v1/calls", json={"agent_id": agent["id"], "to": "+14155552677"}).json()
    wav = tmp_path / "call.wav"
    wav.write_bytes(b"RIFF\x24\x00\x00\x00WAVEfmt ")
    set_call_columns(api_server.db_url, call["id"], status="completed", recording_path=str(wav))
    page = browser.get(f"/app/calls/{call['id']}").text
    assert f'<audio controls preload="metadata" src="/app/calls/{call["id"]}/recording">' in page
    audio = browser.get(f"/app/calls/{call['id']}/recording")
    assert (audio.status_code, audio.headers["content-type"]) == (200, "audio/wav")
    assert audio.content == wav.read_bytes()
    with closing(sign_in(api_server.base_url, new_key(api_server.db_url))) as stranger:
        assert stranger.get(f"/app/calls/{call['id']}/recording").status_code == 404


def test_a_queued_call_can_be_canceled_from_its_page(
    browser: httpx.Client, api: httpx.Client, agent: dict[str, str]
) -> None:
    call = api.post("/v1/calls", json={"agent_id": agent["id"], "to": "+14155552678"}).json()
    page = browser.get(f"/app/calls/{call['id']}").text
    assert "Hang up / cancel" in page and f'data-events="/app/calls/{call["id"]}/events"' in page
    r = browser.post(f"/app/calls/{call['id']}/cancel", data={"csrf_token": csrf_of(page)})
    assert r.status_code == 303
    assert api.get(f"/v1/calls/{call['id']}").json()["status"] == "canceled"


def test_refusals_are_pages_not_json(browser: httpx.Client) -> None:
    missing = browser.get("/app/calls/00000000-0000-0000-0000-000000000000")
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("text/html")
    assert "Not found" in missing.text and "Sign out" in missing.text
    forged = browser.post("/app/signout", data={"csrf_token": "forged"})
    assert forged.status_code == 403 and "CSRF" in forged.text


def test_a_campaign_action_that_does_not_apply_is_explained(
    browser: httpx.Client, api: httpx.Client, agent: dict[str, str]
) -> None:
    campaign = api.post("/v1/campaigns", json={"name": "Winter", "agent_id": agent["id"]}).json()
    page = browser.get(f"/app/campaigns/{campaign['id']}").text
    r = browser.post(f"/app/campaigns/{campaign['id']}/resume", data={"csrf_token": csrf_of(page)})
    assert r.status_code == 409 and "Not now" in r.text
    assert api.get(f"/v1/campaigns/{campaign['id']}").json()["status"] == campaign["status"]


def test_an_agent_is_created_from_the_form(browser: httpx.Client, api: httpx.Client) -> None:
    token = csrf_of(browser.get("/app/agents").text)
    r = browser.post("/app/agents", data={"csrf_token": token, "name": "Front desk", "prompt": "Be kind.",
                                          "first_message": "Hello {{ first_name||there }}"})
    assert r.status_code == 303, r.text
    agent = api.get(f"/v1/agents/{r.headers['location'].rsplit('/', 1)[1]}").json()
    assert (agent["name"], agent["prompt"]) == ("Front desk", "Be kind.")
    assert agent["first_message"] == "Hello {{ first_name||there }}"
    broken = browser.post("/app/agents", data={"csrf_token": token, "name": "Bad", "prompt": "{% if %}"})
    assert broken.status_code == 422
    assert [a["name"] for a in api.get("/v1/agents").json()["data"]] == ["Front desk"]


def test_the_dynamic_context_test_button_reports_status_latency_and_variables(
    private_urls_server: ApiServer,
) -> None:
    key = new_key(private_urls_server.db_url)
    with ContextEndpoint() as endpoint, client_for(private_urls_server.base_url, key) as api, \
            closing(sign_in(private_urls_server.base_url, key)) as browser:
        endpoint.reply({"tier": "gold"})
        agent = api.post("/v1/agents", json={"name": "Ctx", "dynamic_context": {"enabled": True, "url": endpoint.url}})
        page = browser.get(f"/app/agents/{agent.json()['id']}").text
        assert 'id="context-test"' in page
        url = f"/app/agents/{agent.json()['id']}/context-test"
        assert browser.post(url).status_code == 403
        result = browser.post(url, headers={"X-CSRF-Token": csrf_of(page)}).json()
    assert (result["ok"], result["status_code"], result["variables"]) == (True, 200, {"tier": "gold"})
    assert result["latency_ms"] > 0


def test_a_webhook_target_is_added_and_its_secret_is_shown_once(private_urls_server: ApiServer) -> None:
    key = new_key(private_urls_server.db_url)
    with client_for(private_urls_server.base_url, key) as api, \
            closing(sign_in(private_urls_server.base_url, key)) as browser:
        agent = api.post("/v1/agents", json={"name": "Hooks", "prompt": "Hi"}).json()
        page = browser.get(f"/app/agents/{agent['id']}").text
        added = browser.post(f"/app/agents/{agent['id']}/webhooks", data={
            "csrf_token": csrf_of(page), "url": "http://127.0.0.1:9/hook", "events": ["call.ended"],
            "include_transcript": "on"})
        assert added.status_code == 200, added.text
        secret = re.search(r"shown only this once: <code>(whsec_[^<]+)</code>", added.text)
        assert secret
        assert secret.group(1) not in browser.get(f"/app/agents/{agent['id']}").text
        targets = api.get(f"/v1/agents/{agent['id']}/webhooks").json()
    targets = targets["data"] if isinstance(targets, dict) else targets
    assert [(t["url"], t["events"]) for t in targets] == [("http://127.0.0.1:9/hook", ["call.ended"])]


def test_analytics_by_source_counts_dashboard_calls(browser: httpx.Client, agent: dict[str, str]) -> None:
    token = csrf_of(browser.get("/app/calls/new").text)
    browser.post("/app/calls", data={"csrf_token": token, "agent_id": agent["id"], "to": "+14155552679"})
    page = browser.get("/app/analytics?group_by=call_source").text
    assert "<title>dashboard: 1 calls</title>" in page


def test_campaign_progress_streams_until_the_campaign_is_over(
    api_server: ApiServer, browser: httpx.Client, api: httpx.Client, agent: dict[str, str]
) -> None:
    campaign = api.post("/v1/campaigns", json={"name": "Stream", "agent_id": agent["id"]}).json()
    api.post(f"/v1/campaigns/{campaign['id']}/contacts", content="phone_number\n+14155552693\n",
             headers={"Content-Type": "text/csv"})
    assert api.post(f"/v1/campaigns/{campaign['id']}/cancel").status_code == 200
    with browser.stream("GET", f"/app/campaigns/{campaign['id']}/events") as r:
        assert r.headers["content-type"].startswith("text/event-stream")
        body = "".join(r.iter_text())
    assert "event: progress" in body and '"total": 1' in body
    assert body.rstrip().endswith('data: {"status": "canceled"}')
    with closing(sign_in(api_server.base_url, new_key(api_server.db_url))) as stranger:
        assert stranger.get(f"/app/campaigns/{campaign['id']}/events").status_code == 404
