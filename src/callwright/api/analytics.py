"""Call analytics: how many calls were answered, completed and successful, per group."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query

from callwright.api.deps import Org, Svc
from callwright.domain.analytics import CallAnalytics, GroupBy, UtcInstant
from callwright.services import analytics as service

router = APIRouter(prefix="/v1/analytics", tags=["analytics"])

_DEFINITIONS = """Figures per group of the organization's calls created in `[created_after, created_before)`,
sorted by `key` (days ascending; a null key last).

- `calls`: every call in the group, whatever its status.
- `answered`: calls with `answered_at` set.
- `answer_rate`: `answered` / calls with an outcome, i.e. answered or ended as `completed`, `no_answer`,
  `busy`, `failed` or `voicemail`. Calls still `scheduled`, `queued`, `dialing` or `ringing` have no outcome
  yet, and a call `canceled` before anyone answered never had the chance, so neither counts. Four decimals;
  null when no call has an outcome.
- `completed`, `voicemail`, `no_answer`: calls with that status.
- `successful`: calls whose post-call analysis has `call_successful: true`.
- `success_rate`: `successful` / `answered`, four decimals; null when none was answered.
- `avg_duration_ms`: mean `duration_ms` of the calls that have one (rounded to a millisecond); null if none.
- `day` groups by the UTC date of `created_at`, as `YYYY-MM-DD`.

Datetimes without a zone are taken as UTC."""


@router.get("/calls", response_model=CallAnalytics, description=_DEFINITIONS)
async def call_analytics(
    org: Org, svc: Svc,
    group_by: Annotated[GroupBy, Query(description="What a group is.")] = "day",
    created_after: Annotated[UtcInstant | None, Query(description="Calls created at or after this time.")] = None,
    created_before: Annotated[UtcInstant | None, Query(description="Calls created before this time.")] = None,
    agent_id: uuid.UUID | None = None,
    campaign_id: uuid.UUID | None = None,
    call_source: Annotated[str | None, Query(max_length=200)] = None,
) -> CallAnalytics:
    return await service.call_stats(
        svc.db, org.org_id, group_by, created_after=created_after, created_before=created_before,
        agent_id=agent_id, campaign_id=campaign_id, call_source=call_source,
    )
