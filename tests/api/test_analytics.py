"""GET /v1/analytics/calls: counts and rates per source, agent, campaign and UTC day."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import httpx
import pytest
from tests.conftest import ApiServer

from callwright.store.db import Database
from callwright.store.tables import calls

D1, D2 = "2026-03-01", "2026-03-02"
CAMPAIGN_1, CAMPAIGN_2 = sorted([str(uuid.uuid4()), str(uuid.uuid4())])


def _at(day: str, hour: int, minute: int = 0, tz: timezone = UTC) -> datetime:
    return datetime.fromisoformat(day).replace(hour=hour, minute=minute, tzinfo=tz)


def _finish(db_url: str, outcomes: dict[str, dict[str, Any]]) -> None:
    """Leave each call row as a finished (or still pending) call would have: the API fixture
    never dials, so the outcome is written directly."""

    async def _update() -> None:
        db = Database(db_url)
        try:
            async with db.tx() as conn:
                for call_id, values in outcomes.items():
                    await conn.execute(calls.update().where(calls.c.id == uuid.UUID(call_id)).values(**values))
        finally:
            await db.dispose()

    asyncio.run(_update())


def _call(api: httpx.Client, agent_id: str, n: int, source: str) -> str:
    r = api.post("/v1/calls", json={"agent_id": agent_id, "to": f"+1415555{n:04d}", "call_source": source})
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def _answered(day: str, hour: int, duration_ms: int | None, successful: object) -> dict[str, Any]:
    at = _at(day, hour)
    return {"answered_at": at + timedelta(seconds=5), "duration_ms": duration_ms,
            "analysis": {"call_successful": successful, "summary": "..."}}


@pytest.fixture
def calls_made(
    api: httpx.Client, other_org: httpx.Client, agent: dict[str, Any], api_server: ApiServer
) -> dict[str, str]:
    """Seven calls of two agents, two sources, two campaigns and two UTC days, plus a call of
    another organization that must never be counted."""
    a = str(agent["id"])
    b = str(api.post("/v1/agents", json={"name": "Second"}).json()["id"])
    ids = {
        "c1": _call(api, a, 1, "api"), "c2": _call(api, a, 2, "api"), "c3": _call(api, a, 3, "csv"),
        "c4": _call(api, b, 4, "csv"), "c5": _call(api, b, 5, "api"), "c6": _call(api, b, 6, "api"),
        "c7": _call(api, a, 7, "api"),
    }
    other_agent = other_org.post("/v1/agents", json={"name": "Other"}).json()["id"]
    foreign = other_org.post("/v1/calls", json={"agent_id": other_agent, "to": "+14155550999"}).json()["id"]
    _finish(api_server.db_url, {
        # D1, late in the UTC day: completed and successful, in campaign 1.
        ids["c1"]: {"status": "completed", "created_at": _at(D1, 23, 30), "campaign_id": uuid.UUID(CAMPAIGN_1),
                    **_answered(D1, 23, 60000, True)},
        ids["c2"]: {"status": "completed", "created_at": _at(D1, 10), "campaign_id": uuid.UUID(CAMPAIGN_1),
                    **_answered(D1, 10, 30000, False)},
        # D2 just after midnight UTC: nobody answered, campaign 2.
        ids["c3"]: {"status": "no_answer", "created_at": _at(D2, 0, 30), "campaign_id": uuid.UUID(CAMPAIGN_2)},
        # A voicemail whose analysis says "true" as a string: not a JSON true, not successful.
        ids["c4"]: {"status": "voicemail", "created_at": _at(D2, 12), "duration_ms": 5000,
                    "analysis": {"call_successful": "true"}},
        ids["c5"]: {"created_at": _at(D2, 13)},  # still queued: no outcome yet
        # 01:00 at UTC+2 on D2 is 23:00 UTC on D1; canceled before anyone answered.
        ids["c6"]: {"status": "canceled", "created_at": _at(D2, 1, tz=timezone(timedelta(hours=2)))},
        ids["c7"]: {"status": "in_progress", "created_at": _at(D2, 14), **_answered(D2, 14, None, None)},
        foreign: {"status": "completed", "created_at": _at(D1, 12), **_answered(D1, 12, 1000, True)},
    })
    return {**ids, "agent_a": a, "agent_b": b}


def _stats(calls_: int, answered: int, answer_rate: float | None, completed: int, successful: int,
           success_rate: float | None, avg_duration_ms: int | None, voicemail: int, no_answer: int) -> dict[str, Any]:
    return {"calls": calls_, "answered": answered, "answer_rate": answer_rate, "completed": completed,
            "successful": successful, "success_rate": success_rate, "avg_duration_ms": avg_duration_ms,
            "voicemail": voicemail, "no_answer": no_answer}


def _get(api: httpx.Client, **params: str) -> dict[str, Any]:
    r = api.get("/v1/analytics/calls", params=params)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def test_by_utc_day_counts_each_outcome_and_rates_over_calls_with_an_outcome(
    api: httpx.Client, calls_made: dict[str, str]
) -> None:
    body = _get(api, group_by="day")
    assert body == {
        "group_by": "day",
        "created_after": None,
        "created_before": None,
        "data": [
            # c1, c2 and c6 (canceled unanswered: not in the answer rate's base).
            {"key": D1, **_stats(3, 2, 1.0, 2, 1, 0.5, 45000, 0, 0)},
            # c3 no answer, c4 voicemail, c5 queued (no outcome), c7 answered and in progress.
            {"key": D2, **_stats(4, 1, 0.3333, 0, 0, 0.0, 5000, 1, 1)},
        ],
    }


def test_by_call_source(api: httpx.Client, calls_made: dict[str, str]) -> None:
    data = _get(api, group_by="call_source")["data"]
    assert data == [
        {"key": "api", **_stats(5, 3, 1.0, 2, 1, 0.3333, 45000, 0, 0)},
        {"key": "csv", **_stats(2, 0, 0.0, 0, 0, None, 5000, 1, 1)},
    ]


def test_by_agent_sorted_by_agent_id(api: httpx.Client, calls_made: dict[str, str]) -> None:
    by_agent = {
        calls_made["agent_a"]: _stats(4, 3, 0.75, 2, 1, 0.3333, 45000, 0, 1),
        calls_made["agent_b"]: _stats(3, 0, 0.0, 0, 0, None, 5000, 1, 0),
    }
    data = _get(api, group_by="agent_id")["data"]
    assert data == [{"key": key, **by_agent[key]} for key in sorted(by_agent)]


def test_by_campaign_with_calls_outside_any_campaign_last(api: httpx.Client, calls_made: dict[str, str]) -> None:
    data = _get(api, group_by="campaign_id")["data"]
    assert data == [
        {"key": CAMPAIGN_1, **_stats(2, 2, 1.0, 2, 1, 0.5, 45000, 0, 0)},
        {"key": CAMPAIGN_2, **_stats(1, 0, 0.0, 0, 0, None, None, 0, 1)},
        {"key": None, **_stats(4, 1, 0.5, 0, 0, 0.0, 5000, 1, 0)},
    ]


def test_the_time_window_includes_its_start_and_excludes_its_end(api: httpx.Client, calls_made: dict[str, str]) -> None:
    after = _get(api, group_by="day", created_after=f"{D2}T00:00:00Z")
    assert after["created_after"] == f"{D2}T00:00:00Z" and [g["key"] for g in after["data"]] == [D2]
    assert after["data"][0]["calls"] == 4
    before = _get(api, group_by="day", created_before=f"{D2}T00:30:00")  # no zone: UTC
    assert before["created_before"] == f"{D2}T00:30:00Z"
    assert [(g["key"], g["calls"]) for g in before["data"]] == [(D1, 3)]


def test_filters_narrow_the_calls_counted(api: httpx.Client, calls_made: dict[str, str]) -> None:
    data = _get(api, group_by="day", agent_id=calls_made["agent_b"])["data"]
    # D1 holds only c6, canceled before an answer: no call with an outcome, so no rate.
    assert data == [
        {"key": D1, **_stats(1, 0, None, 0, 0, None, None, 0, 0)},
        {"key": D2, **_stats(2, 0, 0.0, 0, 0, None, 5000, 1, 0)},
    ]
    by_source = _get(api, group_by="call_source", call_source="csv", campaign_id=CAMPAIGN_2)["data"]
    assert by_source == [{"key": "csv", **_stats(1, 0, 0.0, 0, 0, None, None, 0, 1)}]


def test_another_organization_sees_only_its_own_calls(
    other_org: httpx.Client, calls_made: dict[str, str]
) -> None:
    data = _get(other_org, group_by="day")["data"]
    assert data == [{"key": D1, **_stats(1, 1, 1.0, 1, 1, 1.0, 1000, 0, 0)}]


def test_an_organization_without_calls_gets_no_groups_by_day_unless_asked(api: httpx.Client) -> None:
    assert _get(api) == {"group_by": "day", "data": [], "created_after": None, "created_before": None}
    assert _get(api, group_by="agent_id")["data"] == []


def test_an_unknown_group_by_is_a_422_and_the_choices_are_in_openapi(api: httpx.Client) -> None:
    r = api.get("/v1/analytics/calls", params={"group_by": "contact_id"})
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == ["query", "group_by"]
    for bad in ("yesterday", "0001-01-01T00:00:00+01:00"):  # the second has no UTC time
        assert api.get("/v1/analytics/calls", params={"created_after": bad}).status_code == 422
    spec = api.get("/openapi.json").json()
    params = {p["name"]: p for p in spec["paths"]["/v1/analytics/calls"]["get"]["parameters"]}
    assert params["group_by"]["schema"]["enum"] == ["call_source", "agent_id", "campaign_id", "day"]


def test_analytics_need_an_api_key(api_server: ApiServer) -> None:
    assert httpx.get(f"{api_server.base_url}/v1/analytics/calls").status_code == 401
