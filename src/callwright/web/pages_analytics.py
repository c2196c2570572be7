"""The dashboard's analytics: calls, answer rate, success rate and average duration by source,
agent, campaign or day, as charts and a table, with the figures of ``GET /v1/analytics/calls``."""


from __future__ import annotations

from typing import cast, get_args

from fastapi.responses import Response

from callwright.domain.analytics import CallStats, GroupBy
from callwright.services import agents as agent_service
from callwright.services import analytics as analytics_service
from callwright.services import campaigns as campaign_service
from callwright.web.auth import Session
from callwright.web.charts import Chart, bar_chart
from callwright.web.common import Svc, opt_date, router
from callwright.web.views import page

GROUPS: tuple[str, ...] = get_args(GroupBy)
GROUP_TITLES = {"call_source": "source", "agent_id": "agent", "campaign_id": "campaign", "day": "day"}


def _percent(rate: float | None) -> str:
    return "" if rate is None else f"{rate * 100:.0f}%"


def _seconds(ms: int | None) -> str:
    return "" if ms is None else f"{ms / 1000:.1f} s"


def charts(stats: list[CallStats], labels: list[str]) -> list[Chart]:
    """Calls, answer rate, success rate and average duration, one bar per group."""
    rows = list(zip(labels, stats, strict=True))
    return [
        bar_chart("calls", "Calls", [(label, s.calls, str(s.calls)) for label, s in rows]),
        bar_chart("answer-rate", "Answer rate", [(label, s.answer_rate, _percent(s.answer_rate)) for label, s in rows],
                  top=1.0),
        bar_chart("success-rate", "Success rate",
                  [(label, s.success_rate, _percent(s.success_rate)) for label, s in rows], top=1.0),
        bar_chart("duration", "Average duration",
                  [(label, s.avg_duration_ms, _seconds(s.avg_duration_ms)) for label, s in rows]),
    ]


@router.get("/analytics")
async def analytics_page(
    session: Session, svc: Svc, group_by: str = "call_source", created_after: str = "", created_before: str = "",
) -> Response:
    if group_by not in GROUPS:
        group_by = "call_source"
    org_id = session.principal.org_id
    stats = await analytics_service.call_stats(
        svc.db, org_id, cast(GroupBy, group_by),
        created_after=opt_date(created_after), created_before=opt_date(created_before),
    )
    names: dict[str, str] = {}
    if group_by == "agent_id":
        agents, _ = await agent_service.list_agents(svc.db, org_id, 500, None, True, box=svc.secrets)
        names = {a.id: a.name for a in agents}
    elif group_by == "campaign_id":
        campaigns, _ = await campaign_service.list_campaigns(svc.db, org_id, 500, None)
        names = {c.id: c.name for c in campaigns}
    empty = "no campaign" if group_by == "campaign_id" else "none"
    labels = [empty if s.key is None else names.get(s.key, s.key) for s in stats.data]
    return page(
        "analytics.html", session, stats=stats, rows=list(zip(labels, stats.data, strict=True)),
        charts=charts(stats.data, labels), group_by=group_by, groups=GROUPS, titles=GROUP_TITLES,
        filters={"created_after": created_after, "created_before": created_before},
        percent=_percent, seconds=_seconds,
    )
