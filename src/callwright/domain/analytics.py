"""Call analytics: outcome counts and rates per group (source, agent, campaign or day)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, WithJsonSchema

from callwright.domain.common import TIMESTAMP_SCHEMA, Out, Timestamp, UtcDatetime

GroupBy = Literal["call_source", "agent_id", "campaign_id", "day"]


def _in_utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:00+01:00 has no UTC time
        raise ValueError("the time is out of range in UTC") from None


UtcInstant = Annotated[Timestamp, AfterValidator(_in_utc), WithJsonSchema(TIMESTAMP_SCHEMA)]
"""A query datetime, converted to UTC (a value without a zone is taken as UTC); one with no UTC
equivalent is a 422, not a database error."""


class CallStats(Out):
    """One group's figures; see ``GET /v1/analytics/calls`` for the definitions."""

    key: str | None = Field(description="The group's value: a call source, agent or campaign ID, or a UTC day "
                            "(YYYY-MM-DD); null for calls without a campaign.")
    calls: int
    answered: int
    answer_rate: float | None = Field(description="answered / calls with an outcome; null when none has one.")
    completed: int
    successful: int
    success_rate: float | None = Field(description="successful / answered; null when none was answered.")
    avg_duration_ms: int | None = Field(description="Mean duration of the calls that have one.")
    voicemail: int
    no_answer: int


class CallAnalytics(Out):
    group_by: GroupBy
    data: list[CallStats]
    created_after: UtcDatetime | None = None
    created_before: UtcDatetime | None = None
