"""The dashboard's analytics: calls and their outcomes by source, agent, campaign or day."""


from __future__ import annotations

from typing import cast, get_args

from fastapi.responses import Response

from callwright.domain.analytics import GroupBy
from callwright.services import analytics as analytics_service
from callwright.web.auth import (
    Session,
)
from callwright.web.common import (
    Svc,
    router,
)
from callwright.web.views import page

GROUPS: tuple[str, ...] = get_args(GroupBy)


@router.get("/analytics")
async def analytics_page(session: Session, svc: Svc, group_by: str = "call_source") -> Response:
    if group_by not in GROUPS:
        group_by = "call_source"
    stats = await analytics_service.call_stats(svc.db, session.principal.org_id, cast(GroupBy, group_by))
    return page("analytics.html", session, stats=stats, group_by=group_by, groups=GROUPS)
