"""Campaigns over HTTP: creation (canonical and seed 000 forms), CSV upload, control, progress and
rows, scoped to the organization. Nothing dials here (the API server runs without a dialer)."""

from __future__ import annotations

from typing import Any

import httpx

CSV = (
    "customer_phone,first_name,last_name,amount\n"
    "+14155550101,Ann,Lee,120\n"
    "+14155550102,Bob,,80\n"
    "not-a-number,Cy,,10\n"
    "+14155550101,Ann again,,5\n"
)


def campaign(api: httpx.Client, agent: dict[str, Any], **fields: Any) -> dict[str, Any]:
    body = {"name": "Q4 reminders", "agent_id": agent["id"], **fields}
    r = api.post("/v1/campaigns", json=body)
    assert r.status_code == 201, r.text
    created: dict[str, Any] = r.json()
    return created


def upload(api: httpx.Client, campaign_id: str, text: str) -> httpx.Response:
    return api.post(
        f"/v1/campaigns/{campaign_id}/contacts", content=text.encode(), headers={"Content-Type": "text/csv"}
    )


def test_a_campaign_is_created_as_a_draft_with_the_compliance_defaults(
    api: httpx.Client, agent: dict[str, Any]
) -> None:
    c = campaign(api, agent)
    assert c["status"] == "draft"
    assert c["call_source"] == "api_campaign"
    assert c["calling_window"] == {
        "start": "08:00", "end": "21:00", "days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
        "timezone": "callee",
    }
    assert c["max_concurrency"] >= 1 and c["max_attempts_per_day"] >= 1
    assert c["progress"]["total"] == 0


def test_seed_000s_schedule_form_is_accepted_as_written(api: httpx.Client, agent: dict[str, Any]) -> None:
    context = {"campaign_goal": "Enterprise plan upgrades", "promotion": "20% discount for Q4"}
    r = api.post(
        "/v1/campaigns",
        json={"agent_id": agent["id"], "schedule": {"name": "Q4 Enterprise Campaign", "context": context}},
    )
    assert r.status_code == 201, r.text
    assert (r.json()["name"], r.json()["context"]) == ("Q4 Enterprise Campaign", context)


def test_a_campaign_without_a_name_is_a_422(api: httpx.Client, agent: dict[str, Any]) -> None:
    assert api.post("/v1/campaigns", json={"agent_id": agent["id"]}).status_code == 422


def test_a_window_across_midnight_is_a_422(api: httpx.Client, agent: dict[str, Any]) -> None:
    r = api.post(
        "/v1/campaigns",
        json={"name": "x", "agent_id": agent["id"], "calling_window": {"start": "22:00", "end": "06:00"}},
    )
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"][:2] == ["body", "calling_window"]


def test_an_unknown_agent_is_a_404(api: httpx.Client) -> None:
    r = api.post("/v1/campaigns", json={"name": "x", "agent_id": "00000000-0000-4000-8000-000000000000"})
    assert r.status_code == 404


def test_a_csv_upload_accepts_good_rows_and_reports_bad_ones_by_row(api: httpx.Client, agent: dict[str, Any]) -> None:
    c = campaign(api, agent)
    r = upload(api, c["id"], CSV)
    assert r.status_code == 200, r.text
    report = r.json()
    assert report["accepted"] == 2
    rejected = {e["row"]: " ".join(e["errors"]) for e in report["rejected"]}
    assert set(rejected) == {4, 5}
    assert "phone" in rejected[4].lower() or "number" in rejected[4].lower()
    assert "duplicate" in rejected[5].lower() or "already" in rejected[5].lower()


def test_extra_columns_become_the_rows_variables(api: httpx.Client, agent: dict[str, Any]) -> None:
    c = campaign(api, agent)
    upload(api, c["id"], CSV)
    rows = api.get(f"/v1/campaigns/{c['id']}/contacts").json()["data"]
    first = rows[0]
    assert (first["row"], first["phone_number"], first["first_name"]) == (2, "+14155550101", "Ann")
    assert first["variables"] == {"amount": "120"}
    assert first["state"] == "pending" and first["attempts"] == 0


def test_a_multipart_file_is_accepted_too(api: httpx.Client, agent: dict[str, Any]) -> None:
    c = campaign(api, agent)
    r = api.post(
        f"/v1/campaigns/{c['id']}/contacts",
        files={"file": ("leads.csv", b"numberToCall,first_name\n+14155550111,Dee\n", "text/csv")},
    )
    assert r.status_code == 200, r.text
    assert r.json()["accepted"] == 1


def test_a_number_on_the_do_not_call_list_is_skipped_not_rejected(api: httpx.Client, agent: dict[str, Any]) -> None:
    assert api.post("/v1/dnc", json={"phone_number": "+14155550121"}).status_code == 201
    c = campaign(api, agent)
    upload(api, c["id"], "phone_number\n+14155550121\n+14155550122\n")
    progress = api.get(f"/v1/campaigns/{c['id']}").json()["progress"]
    assert progress["by_state"]["skipped_dnc"] == 1
    assert progress["by_state"]["pending"] == 1


def test_a_csv_without_a_phone_column_is_a_422_naming_the_accepted_names(
    api: httpx.Client, agent: dict[str, Any]
) -> None:
    c = campaign(api, agent)
    r = upload(api, c["id"], "name,amount\nAnn,12\n")
    assert r.status_code == 422
    assert "customer_phone" in r.text and "numberToCall" in r.text


def test_progress_counts_rows_per_state(api: httpx.Client, agent: dict[str, Any]) -> None:
    c = campaign(api, agent)
    upload(api, c["id"], CSV)
    progress = api.get(f"/v1/campaigns/{c['id']}").json()["progress"]
    assert progress["total"] == 2
    assert progress["by_state"]["pending"] == 2
    assert progress["live_calls"] == 0


def test_the_control_actions_follow_the_campaigns_states(api: httpx.Client, agent: dict[str, Any]) -> None:
    c = campaign(api, agent)
    upload(api, c["id"], CSV)
    base = f"/v1/campaigns/{c['id']}"
    assert api.post(f"{base}/pause").status_code == 409  # a draft is not running
    assert api.post(f"{base}/start").json()["status"] == "running"
    assert api.post(f"{base}/start").status_code == 409
    assert api.post(f"{base}/pause").json()["status"] == "paused"
    assert api.post(f"{base}/resume").json()["status"] == "running"
    canceled = api.post(f"{base}/cancel").json()
    assert canceled["status"] == "canceled"
    assert canceled["progress"]["by_state"]["canceled"] == 2
    assert upload(api, c["id"], CSV).status_code == 409


def test_starting_a_campaign_without_rows_completes_it(api: httpx.Client, agent: dict[str, Any]) -> None:
    c = campaign(api, agent)
    assert api.post(f"/v1/campaigns/{c['id']}/start").json()["status"] == "completed"


def test_another_organizations_campaign_is_not_found(
    api: httpx.Client, other_org: httpx.Client, agent: dict[str, Any]
) -> None:
    c = campaign(api, agent)
    assert other_org.get(f"/v1/campaigns/{c['id']}").status_code == 404
    assert upload(other_org, c["id"], CSV).status_code == 404
    assert other_org.post(f"/v1/campaigns/{c['id']}/start").status_code == 404
    assert all(x["id"] != c["id"] for x in other_org.get("/v1/campaigns").json()["data"])


def test_rows_are_listed_in_file_order_a_page_at_a_time(api: httpx.Client, agent: dict[str, Any]) -> None:
    c = campaign(api, agent)
    upload(api, c["id"], "phone\n" + "".join(f"+1415555{n:04d}\n" for n in range(200, 205)))
    page = api.get(f"/v1/campaigns/{c['id']}/contacts", params={"limit": 2}).json()
    assert [r["row"] for r in page["data"]] == [2, 3]
    nxt = api.get(f"/v1/campaigns/{c['id']}/contacts", params={"limit": 2, "after_row": page["next_cursor"]}).json()
    assert [r["row"] for r in nxt["data"]] == [4, 5]


def test_a_multipart_form_field_holding_the_csv_text_is_accepted(api: httpx.Client, agent: dict[str, Any]) -> None:
    c = campaign(api, agent)
    r = api.post(f"/v1/campaigns/{c['id']}/contacts", files={"file": (None, "phone\n+14155550131\n")})
    assert r.status_code == 200, r.text
    assert r.json()["accepted"] == 1


def test_an_unknown_row_state_filter_is_a_422(api: httpx.Client, agent: dict[str, Any]) -> None:
    c = campaign(api, agent)
    assert api.get(f"/v1/campaigns/{c['id']}/contacts", params={"state": "lost"}).status_code == 422
