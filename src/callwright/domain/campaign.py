"""Campaigns: one agent calling every row of a CSV, inside calling hours, within limits, with retries.

The public shapes of ``/v1/campaigns`` (API.md, "Campaigns"). Seed 000's
``{"schedule": {"name", "context"}}`` is accepted as written: its fields are the campaign's own.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError

from callwright.domain.agent import RetryPolicy
from callwright.domain.call import Context
from callwright.domain.campaign_schedule import CallingWindow
from callwright.domain.common import FIELD_CONFLICT, AssumeUtc, JsonUuid, Out, Strict, UtcDatetime
from callwright.domain.phones import CountryCode

CampaignStatus = Literal["draft", "running", "paused", "completed", "canceled"]
RowState = Literal["pending", "dialing", "completed", "failed", "skipped_dnc", "canceled"]
ROW_STATES: tuple[RowState, ...] = ("pending", "dialing", "completed", "failed", "skipped_dnc", "canceled")
OPEN_ROW_STATES: tuple[RowState, ...] = ("pending", "dialing")

DEFAULT_MAX_CONCURRENCY = 5
DEFAULT_MAX_ATTEMPTS_PER_DAY = 3


def _campaign_retry() -> RetryPolicy:
    return RetryPolicy(max_attempts=3)


class SeedSchedule(Strict):
    """Seed 000's wrapper: ``{"schedule": {"name": ..., "context": ...}}``."""

    name: str | None = Field(default=None, min_length=1, max_length=200)
    context: Context | None = None


class CampaignCreate(Strict):
    """``POST /v1/campaigns``."""

    model_config = ConfigDict(
        json_schema_extra={
            "anyOf": [
                {"required": ["name"], "properties": {"name": {"type": "string"}}},
                {
                    "required": ["schedule"],
                    "properties": {
                        "schedule": {"type": "object", "required": ["name"], "properties": {"name": {"type": "string"}}}
                    },
                },
            ]
        }
    )

    name: str | None = Field(default=None, min_length=1, max_length=200, description="Required here or in `schedule`.")
    agent_id: JsonUuid = Field(description="The agent that makes every call of the campaign.")
    context: Context | None = Field(
        default=None,
        description="Campaign-level context shared by every call: a variable `context` and its own section of an "
        "LLM agent's instructions (campaign first, then the call's).",
    )
    call_source: str = Field(default="api_campaign", min_length=1, max_length=200)
    calling_window: CallingWindow = Field(
        default_factory=CallingWindow,
        description="When rows may be dialed; by default 08:00-21:00 every day in the callee's local time.",
    )
    start_at: AssumeUtc | None = Field(default=None, description="No row is dialed before this time.")
    max_concurrency: int = Field(
        default=DEFAULT_MAX_CONCURRENCY, ge=1, le=1000, description="Live calls of this campaign at most, across "
        "every worker process."
    )
    max_attempts_per_day: int = Field(
        default=DEFAULT_MAX_ATTEMPTS_PER_DAY, ge=1, le=20,
        description="Attempts per number per callee-local day at most (retries included).",
    )
    retry: RetryPolicy = Field(
        default_factory=_campaign_retry,
        description="Which outcomes are retried, the waits between attempts, and the attempts per row at most.",
    )
    default_region: CountryCode | None = Field(
        default=None, description="Region national-format numbers in the CSV are read in (else the server's)."
    )
    metadata: dict[str, Any] = Field(default_factory=dict)
    schedule: SeedSchedule | None = Field(default=None, description="Seed 000's form of `name` and `context`.")

    @model_validator(mode="after")
    def _unwrap_schedule(self) -> CampaignCreate:
        if self.schedule is not None:
            for name in ("name", "context"):
                value = getattr(self.schedule, name)
                if value is None:
                    continue
                if getattr(self, name) is not None:
                    raise PydanticCustomError(
                        FIELD_CONFLICT, "`{name}` is given both at the top level and in `schedule`", {"name": name}
                    )
                setattr(self, name, value)
            self.schedule = None
        if self.name is None:
            raise ValueError("a campaign needs a `name` (or `schedule.name`)")
        return self


class CampaignProgress(Out):
    total: int = Field(description="Rows uploaded.")
    by_state: dict[str, int] = Field(description="Rows per state: " + ", ".join(ROW_STATES) + ".")
    by_outcome: dict[str, int] = Field(description="Rows per outcome of their latest attempt (a call's end reason).")
    live_calls: int = Field(description="Calls of this campaign being dialed or talking now.")
    attempts: int = Field(description="Calls placed so far, retries included.")


class CampaignOut(Out):
    id: str
    name: str
    agent_id: str
    status: CampaignStatus
    context: Context | None
    call_source: str
    calling_window: CallingWindow
    start_at: UtcDatetime | None
    max_concurrency: int
    max_attempts_per_day: int
    retry: RetryPolicy
    default_region: str | None
    metadata: dict[str, Any]
    created_at: UtcDatetime
    updated_at: UtcDatetime
    started_at: UtcDatetime | None
    completed_at: UtcDatetime | None
    progress: CampaignProgress


class CampaignPage(Out):
    data: list[CampaignOut]
    next_cursor: str | None


class CampaignRowOut(Out):
    id: str
    row: int = Field(description="The CSV line the row came from (the header is line 1).")
    phone_number: str
    first_name: str | None
    last_name: str | None
    email: str | None
    external_id: str | None
    timezone: str | None
    variables: dict[str, Any]
    state: RowState
    attempts: int
    next_attempt_at: UtcDatetime | None
    last_call_id: str | None = Field(description="The conversation of the latest attempt.")
    last_outcome: str | None
    retry_context: dict[str, Any] | None
    errors: list[str] | None


class RejectedRow(Out):
    row: int = Field(description="The line in the file (the header is line 1).")
    errors: list[str]


class CampaignUploadReport(Out):
    """What became of an upload's rows: ``rows`` = ``accepted`` + ``skipped_dnc`` + ``rejected_count``."""

    accepted: int = Field(description="Rows stored, waiting to be dialed.")
    rejected: list[RejectedRow] = Field(description="Rows not stored, with why (the first 1,000).")
    rejected_count: int
    rejected_truncated: bool = Field(description="More rows were rejected than `rejected` lists.")
    duplicates: int = Field(description="Rejected: the number is already in the campaign (or earlier in the file).")
    skipped_dnc: int = Field(description="Stored but never dialed: the number is on the do-not-call list.")
    rows: int = Field(description="Rows read.")


class CampaignRowPage(Out):
    data: list[CampaignRowOut]
    next_cursor: str | None
