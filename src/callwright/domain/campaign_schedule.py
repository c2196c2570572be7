"""When a campaign may dial a row: the calling window in the callee's local time, retries after a
failed attempt, the per-day attempt cap, and the retry context handed to the next attempt.

Pure rules: the clock is always passed in, nothing here reads it or touches storage, so the
scheduler (and its tests) decide what "now" is.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from callwright.domain.agent import RetryPolicy
from callwright.domain.call import RetryContext
from callwright.domain.common import Strict
from callwright.domain.contact import time_zones
from callwright.domain.phones import timezone_for

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]

WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
"""In ``date.weekday()`` order."""

WINDOW_ORDER = "window_order"
"""The 422 ``type`` of a window whose start is not before its end (JSON Schema cannot compare)."""

CALLEE = "callee"
"""The ``timezone`` value meaning "the callee's own local time"."""

HH_MM_PATTERN = r"^([01][0-9]|2[0-3]):[0-5][0-9]$"

_IANA_NAME_PATTERN = r"^(callee|[A-Za-z][A-Za-z0-9_+\-]*(/[A-Za-z0-9_+\-]+)*)$"
"""What an IANA zone name looks like; whether it exists is checked against the zone database."""

_LONGEST_GAP = timedelta(hours=3)
"""More than any DST jump, so an opening inside a skipped hour is always found."""


def _hh_mm(text: str) -> time:
    return time(int(text[:2]), int(text[3:]))


def _zone(name: str) -> ZoneInfo | None:
    if not re.match(_IANA_NAME_PATTERN, name):
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


class CallingWindow(Strict):
    """The hours a campaign may call, in the callee's local time unless a zone is named.

    With ``timezone: "callee"`` the local time is the row's ``timezone`` when it has one, else the
    zone of the number (its country or US/Canadian area code; the first candidate when a number
    spans several zones), else UTC. The defaults are the US rule: no calls before 8 am or after
    9 pm callee-local.
    """

    start: str = Field(
        default="08:00", pattern=HH_MM_PATTERN,
        description="Local time (HH:MM, 24-hour) from which calls may start.",
    )
    end: str = Field(
        default="21:00", pattern=HH_MM_PATTERN,
        description="Local time (HH:MM, 24-hour) from which no call may start; later than `start` "
        "(a window across midnight is refused).",
    )
    days: list[Weekday] = Field(
        default_factory=lambda: list(WEEKDAYS), min_length=1, max_length=7,
        json_schema_extra={"uniqueItems": True},
        description="Days of the week (callee-local) on which calls may be made; each at most once.",
    )
    timezone: str = Field(
        default=CALLEE, max_length=64, json_schema_extra={"enum": [CALLEE, *time_zones()]},
        description="`callee`: each callee's local time (the row's `timezone`, else the zone of the number, "
        "else UTC); otherwise an IANA time zone name (`America/New_York`) used for every row.",
    )

    @field_validator("days")
    @classmethod
    def _no_duplicate_days(cls, days: list[Weekday]) -> list[Weekday]:
        if len(set(days)) != len(days):
            raise ValueError("calling_window.days lists a day more than once")
        return days

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, name: str) -> str:
        if name != CALLEE and (name not in time_zones() or _zone(name) is None):
            raise ValueError(f"{name!r} is not an IANA time zone name (such as America/New_York) or 'callee'")
        return name

    @model_validator(mode="after")
    def _start_before_end(self) -> CallingWindow:
        if self.start >= self.end:
            raise PydanticCustomError(
                WINDOW_ORDER,
                "calling_window.start ({start}) must be earlier than end ({end}); a window across midnight is "
                "not supported",
                {"start": self.start, "end": self.end},
            )
        return self

    def zone_for(self, row_timezone: str | None, phone_e164: str) -> ZoneInfo:
        """The zone the window is read in for one row (see the class docstring for the order).
        A row zone that is not a valid IANA name is passed over rather than failing the row."""
        if self.timezone != CALLEE:
            return ZoneInfo(self.timezone)
        for name in (row_timezone, timezone_for(phone_e164)):
            if name and (zone := _zone(name)) is not None:
                return zone
        return ZoneInfo("UTC")

    def is_open(self, at: datetime, zone: ZoneInfo) -> bool:
        """Whether a call may start at ``at`` (an aware datetime), judged on the local wall clock."""
        local = _aware(at).astimezone(zone)
        if WEEKDAYS[local.weekday()] not in self.days:
            return False
        wall = local.time().replace(tzinfo=None)
        return _hh_mm(self.start) <= wall < _hh_mm(self.end)

    def next_open(self, at: datetime, zone: ZoneInfo) -> datetime:
        """``at`` (in UTC) when the window is open then, else the next instant it opens, in UTC.

        Openings are computed per local calendar day, so DST changes keep the local start time;
        a start that falls in a skipped hour opens when the clock jumps past it.
        """
        at = _aware(at).astimezone(UTC)
        if self.is_open(at, zone):
            return at
        first_day = at.astimezone(zone).date()
        for offset in range(9):  # a week, plus slack for the day ``at`` is on
            day = first_day + timedelta(days=offset)
            if WEEKDAYS[day.weekday()] not in self.days:
                continue
            opening = self._opening(day, zone)
            if opening > at:
                return opening
        raise AssertionError("a window with at least one day opens within a week")  # pragma: no cover

    def _opening(self, day: date, zone: ZoneInfo) -> datetime:
        """The first UTC instant of ``day`` at which the local clock reads ``start`` or later."""
        wall = datetime.combine(day, _hh_mm(self.start))
        instant = wall.replace(tzinfo=zone).astimezone(UTC)  # fold=0: the earlier of a repeated time
        if instant.astimezone(zone).replace(tzinfo=None) == wall:
            return instant
        # ``start`` does not exist that day (the clock jumps over it): the opening is the jump.
        low, high = instant - _LONGEST_GAP, instant + _LONGEST_GAP
        while high - low > timedelta(seconds=1):
            mid = low + (high - low) / 2
            if mid.astimezone(zone).replace(tzinfo=None) >= wall:
                high = mid
            else:
                low = mid
        return high.replace(microsecond=0)

    def next_day_open(self, at: datetime, zone: ZoneInfo) -> datetime:
        """The window's first opening from local midnight after ``at``: where a row goes once it
        has had its attempts for the day."""
        tomorrow = _aware(at).astimezone(zone).date() + timedelta(days=1)
        midnight = datetime.combine(tomorrow, time(0), tzinfo=zone).astimezone(UTC)
        return self.next_open(midnight, zone)


def _aware(at: datetime) -> datetime:
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError("scheduling needs an aware datetime (UTC), not a naive one")
    return at


def next_attempt_at(policy: RetryPolicy, attempts_made: int, outcome: str, now: datetime) -> datetime | None:
    """When the next attempt is due after ``attempts_made`` attempts, the last ending in ``outcome``;
    None when the policy gives up (an outcome it does not retry, or no attempts left).

    ``max_attempts`` counts the first call, so 1 means no retry. The n-th retry waits
    ``backoff_minutes[n-1]``; the last backoff repeats when the list is shorter, none means no wait.
    The due time is not yet fitted to the calling window (see ``next_dial_at``).
    """
    if attempts_made < 1:
        raise ValueError("next_attempt_at is asked after an attempt, so attempts_made is at least 1")
    if outcome not in policy.on or attempts_made >= policy.max_attempts:
        return None
    backoff = policy.backoff_minutes
    minutes = backoff[min(attempts_made, len(backoff)) - 1] if backoff else 0.0
    return _aware(now) + timedelta(minutes=minutes)


def local_day(now: datetime, zone: ZoneInfo) -> str:
    """The callee-local date (YYYY-MM-DD) at ``now``: the day the per-day cap counts in."""
    return _aware(now).astimezone(zone).date().isoformat()


def attempts_today(attempt_day: str | None, attempts_that_day: int, now: datetime, zone: ZoneInfo) -> tuple[str, int]:
    """Today's callee-local date and the attempts already made on it, given the stored day and
    count: the count starts again at 0 when the local day has changed since."""
    today = local_day(now, zone)
    return today, attempts_that_day if attempt_day == today else 0


def day_capped(
    attempt_day: str | None, attempts_that_day: int, now: datetime, zone: ZoneInfo, max_attempts_per_day: int | None
) -> bool:
    """Whether the row has had its ``max_attempts_per_day`` attempts on the callee's current day
    (None: no cap), so it must wait for the next day's window."""
    if max_attempts_per_day is None:
        return False
    return attempts_today(attempt_day, attempts_that_day, now, zone)[1] >= max_attempts_per_day


def next_dial_at(
    window: CallingWindow,
    zone: ZoneInfo,
    due: datetime,
    *,
    attempt_day: str | None = None,
    attempts_that_day: int = 0,
    max_attempts_per_day: int | None = None,
) -> datetime:
    """The earliest instant at or after ``due`` at which the row may be dialed: inside the window
    and, when the day it lands on is already capped, at the next day's opening instead."""
    at = window.next_open(due, zone)
    if day_capped(attempt_day, attempts_that_day, at, zone, max_attempts_per_day):
        at = window.next_day_open(at, zone)
    return at


def retry_context_for(
    previous: dict[str, Any] | None,
    results: dict[str, Any],
    stage_id: str | None,
    call_id: str,
    opening_message: str | None = None,
    language: str | None = None,
) -> dict[str, Any]:
    """The ``retry_context`` for the next attempt (the shape of ``RetryContext``), so it resumes
    rather than starts over: the data every attempt so far collected (a newer value wins, a value
    the newer call left empty does not erase an older one), the stage to resume at and the
    opening message and language (this attempt's, else the previous context's), and this call's id.
    """
    before = RetryContext.model_validate(previous or {})
    collected = {**before.collected_data, **{k: v for k, v in results.items() if v is not None}}
    context = RetryContext.model_validate(
        {
            "collected_data": collected,
            "opening_message": opening_message if opening_message is not None else before.opening_message,
            "language": language if language is not None else before.language,
            "stage_id": stage_id if stage_id is not None else before.stage_id,
            "previous_call_id": call_id,
        }
    )
    return context.model_dump(mode="json")
