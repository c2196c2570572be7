"""The pure scheduling rules of campaigns: calling window, retries, per-day cap, retry context."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from callwright.domain.agent import RetryPolicy
from callwright.domain.call import RetryContext
from callwright.domain.campaign_schedule import (
    CallingWindow,
    attempts_today,
    day_capped,
    local_day,
    next_attempt_at,
    next_dial_at,
    retry_context_for,
)

NY = ZoneInfo("America/New_York")
LA = ZoneInfo("America/Los_Angeles")


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


# --- CallingWindow: validation and schema -------------------------------------------------


def test_defaults_are_the_us_rule_every_day_in_callee_time() -> None:
    window = CallingWindow()
    assert (window.start, window.end, window.timezone) == ("08:00", "21:00", "callee")
    assert window.days == ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


def test_window_across_midnight_is_refused_with_a_clear_message() -> None:
    with pytest.raises(ValidationError, match="across midnight"):
        CallingWindow(start="22:00", end="06:00")


def test_empty_window_is_refused() -> None:
    with pytest.raises(ValidationError, match="earlier than end"):
        CallingWindow(start="09:00", end="09:00")


@pytest.mark.parametrize("text", ["8:00", "24:00", "12:60", "noon", "12:00:00"])
def test_time_not_in_hh_mm_is_refused(text: str) -> None:
    with pytest.raises(ValidationError):
        CallingWindow(start=text)


def test_duplicate_days_are_refused() -> None:
    with pytest.raises(ValidationError, match="more than once"):
        CallingWindow(days=["mon", "mon"])


def test_no_days_is_refused() -> None:
    with pytest.raises(ValidationError):
        CallingWindow(days=[])


def test_unknown_day_name_is_refused() -> None:
    with pytest.raises(ValidationError):
        CallingWindow.model_validate({"days": ["monday"]})


@pytest.mark.parametrize("name", ["Mars/Olympus_Mons", "../etc/passwd", "/etc/localtime", ""])
def test_unknown_time_zone_is_refused(name: str) -> None:
    with pytest.raises(ValidationError):
        CallingWindow(timezone=name)


def test_iana_time_zone_is_accepted() -> None:
    assert CallingWindow(timezone="Europe/Paris").timezone == "Europe/Paris"


def test_unknown_field_is_refused() -> None:
    with pytest.raises(ValidationError):
        CallingWindow.model_validate({"start": "09:00", "tz": "UTC"})


def test_json_schema_states_patterns_day_enum_uniqueness_and_descriptions() -> None:
    schema = CallingWindow.model_json_schema()
    props = schema["properties"]
    assert props["start"]["pattern"] == props["end"]["pattern"] == r"^([01][0-9]|2[0-3]):[0-5][0-9]$"
    assert props["days"]["items"]["enum"] == ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
    assert props["days"]["uniqueItems"] is True
    assert props["days"]["minItems"] == 1
    assert props["timezone"]["enum"][0] == "callee" and "America/New_York" in props["timezone"]["enum"]
    assert all(prop.get("description") for prop in props.values())


# --- CallingWindow: zones -------------------------------------------------------------------


def test_named_zone_applies_to_every_row() -> None:
    window = CallingWindow(timezone="Europe/Berlin")
    assert window.zone_for("America/Chicago", "+12125550100") == ZoneInfo("Europe/Berlin")


def test_callee_zone_is_the_rows_timezone_first() -> None:
    assert CallingWindow().zone_for("America/Chicago", "+12125550100") == ZoneInfo("America/Chicago")


def test_callee_zone_falls_back_to_the_number() -> None:
    assert CallingWindow().zone_for(None, "+12135550100") == LA


def test_invalid_row_timezone_falls_back_to_the_number() -> None:
    assert CallingWindow().zone_for("Not/AZone", "+12125550100") == NY


def test_callee_zone_is_utc_when_nothing_pins_it_down() -> None:
    assert CallingWindow().zone_for(None, "+15555550100") == ZoneInfo("UTC")


# --- CallingWindow: is_open --------------------------------------------------------------


def test_open_inside_the_window_in_local_time() -> None:
    assert CallingWindow().is_open(utc(2026, 6, 10, 14, 0), NY)  # 10:00 EDT


def test_closed_before_start_in_local_time_even_when_utc_is_inside() -> None:
    assert not CallingWindow().is_open(utc(2026, 6, 10, 11, 0), NY)  # 07:00 EDT


def test_closed_from_the_end_minute() -> None:
    window = CallingWindow()
    assert window.is_open(utc(2026, 6, 11, 0, 59), NY)  # 20:59 EDT
    assert not window.is_open(utc(2026, 6, 11, 1, 0), NY)  # 21:00 EDT


def test_closed_on_a_day_not_listed_in_local_time() -> None:
    window = CallingWindow(days=["mon", "tue", "wed", "thu", "fri"])
    # 03:00 UTC Saturday is still Friday evening in Los Angeles.
    assert window.is_open(utc(2026, 6, 13, 3, 0), LA)  # Fri 20:00 PDT
    assert not window.is_open(utc(2026, 6, 13, 17, 0), LA)  # Sat 10:00 PDT


def test_naive_datetime_is_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        CallingWindow().is_open(datetime(2026, 6, 10, 14, 0), NY)


# --- CallingWindow: next_open ----------------------------------------------------------------


def test_next_open_is_now_when_open() -> None:
    at = utc(2026, 6, 10, 14, 3, 7)
    assert CallingWindow().next_open(at, NY) == at


def test_next_open_is_later_today_before_start() -> None:
    assert CallingWindow().next_open(utc(2026, 6, 10, 9, 0), NY) == utc(2026, 6, 10, 12, 0)


def test_next_open_is_tomorrow_after_end() -> None:
    assert CallingWindow().next_open(utc(2026, 6, 11, 2, 0), NY) == utc(2026, 6, 11, 12, 0)


def test_next_open_skips_days_not_listed() -> None:
    window = CallingWindow(start="09:00", end="17:00", days=["mon", "tue", "wed", "thu", "fri"])
    friday_evening = utc(2026, 6, 12, 22, 0)  # Fri 18:00 EDT
    assert window.next_open(friday_evening, NY) == utc(2026, 6, 15, 13, 0)  # Mon 09:00 EDT


def test_next_open_keeps_local_start_across_spring_forward() -> None:
    # DST starts Sun 2026-03-08: 08:00 is 13:00 UTC on Saturday, 12:00 UTC on Sunday.
    window = CallingWindow()
    assert window.next_open(utc(2026, 3, 7, 9, 0), NY) == utc(2026, 3, 7, 13, 0)
    assert window.next_open(utc(2026, 3, 8, 3, 0), NY) == utc(2026, 3, 8, 12, 0)


def test_next_open_keeps_local_start_across_fall_back() -> None:
    # DST ends Sun 2026-11-01: 08:00 is 12:00 UTC on Saturday, 13:00 UTC on Sunday.
    window = CallingWindow()
    assert window.next_open(utc(2026, 10, 31, 9, 0), NY) == utc(2026, 10, 31, 12, 0)
    assert window.next_open(utc(2026, 11, 1, 2, 0), NY) == utc(2026, 11, 1, 13, 0)
    assert not window.is_open(utc(2026, 11, 1, 12, 30), NY)  # 07:30 EST


def test_start_in_the_skipped_hour_opens_when_the_clock_jumps() -> None:
    window = CallingWindow(start="02:30", end="05:00")
    opening = window.next_open(utc(2026, 3, 8, 5, 0), NY)  # Sun 00:00 EST
    assert opening == utc(2026, 3, 8, 7, 0)  # 03:00 EDT, the instant 02:00 EST became 03:00
    assert window.is_open(opening, NY)


def test_start_in_the_repeated_hour_opens_at_its_first_occurrence() -> None:
    window = CallingWindow(start="01:30", end="05:00")
    assert window.next_open(utc(2026, 11, 1, 4, 0), NY) == utc(2026, 11, 1, 5, 30)  # 01:30 EDT


def test_next_open_result_is_in_utc() -> None:
    at = datetime(2026, 6, 10, 3, 0, tzinfo=NY)
    assert CallingWindow().next_open(at, NY).tzinfo is UTC


def test_next_day_open_is_the_window_opening_after_local_midnight() -> None:
    # 10:00 EDT Wednesday: the next day's opening is Thursday 08:00 EDT, not later today.
    assert CallingWindow().next_day_open(utc(2026, 6, 10, 14, 0), NY) == utc(2026, 6, 11, 12, 0)


# --- retries ------------------------------------------------------------------------------------


NOW = utc(2026, 6, 10, 14, 0)


def test_no_retry_for_an_outcome_not_in_the_policy() -> None:
    policy = RetryPolicy(max_attempts=3)
    assert next_attempt_at(policy, 1, "voicemail", NOW) is None
    assert next_attempt_at(policy, 1, "completed", NOW) is None


def test_no_retry_once_max_attempts_are_made() -> None:
    assert next_attempt_at(RetryPolicy(max_attempts=3), 3, "busy", NOW) is None


def test_default_policy_makes_one_attempt_only() -> None:
    assert next_attempt_at(RetryPolicy(), 1, "no_answer", NOW) is None


def test_each_retry_waits_its_backoff() -> None:
    policy = RetryPolicy(max_attempts=3, backoff_minutes=[30, 120])
    assert next_attempt_at(policy, 1, "no_answer", NOW) == NOW + timedelta(minutes=30)
    assert next_attempt_at(policy, 2, "no_answer", NOW) == NOW + timedelta(minutes=120)


def test_last_backoff_repeats_when_the_list_is_shorter() -> None:
    policy = RetryPolicy(max_attempts=5, backoff_minutes=[10])
    assert next_attempt_at(policy, 4, "failed", NOW) == NOW + timedelta(minutes=10)


def test_empty_backoff_retries_at_once() -> None:
    assert next_attempt_at(RetryPolicy(max_attempts=2, backoff_minutes=[]), 1, "busy", NOW) == NOW


def test_retry_before_any_attempt_is_a_caller_error() -> None:
    with pytest.raises(ValueError):
        next_attempt_at(RetryPolicy(max_attempts=2), 0, "busy", NOW)


# --- per-day cap ---------------------------------------------------------------------------


def test_local_day_is_the_callees_date_not_utcs() -> None:
    assert local_day(utc(2026, 6, 11, 2, 0), NY) == "2026-06-10"


def test_attempts_today_keeps_the_count_on_the_same_local_day() -> None:
    assert attempts_today("2026-06-10", 2, utc(2026, 6, 11, 2, 0), NY) == ("2026-06-10", 2)


def test_attempts_today_resets_when_the_local_day_changed() -> None:
    assert attempts_today("2026-06-10", 2, utc(2026, 6, 11, 12, 0), NY) == ("2026-06-11", 0)


def test_attempts_today_is_zero_without_a_stored_day() -> None:
    assert attempts_today(None, 0, NOW, NY) == ("2026-06-10", 0)


def test_day_capped_once_the_days_attempts_are_made() -> None:
    assert day_capped("2026-06-10", 2, NOW, NY, 2)
    assert not day_capped("2026-06-10", 1, NOW, NY, 2)


def test_day_cap_lifts_the_next_local_day() -> None:
    assert not day_capped("2026-06-09", 5, NOW, NY, 2)


def test_no_cap_never_caps() -> None:
    assert not day_capped("2026-06-10", 99, NOW, NY, None)


def test_capped_row_is_pushed_to_the_next_days_opening() -> None:
    at = next_dial_at(CallingWindow(), NY, NOW, attempt_day="2026-06-10", attempts_that_day=2, max_attempts_per_day=2)
    assert at == utc(2026, 6, 11, 12, 0)


def test_uncapped_row_is_dialed_at_the_window() -> None:
    at = next_dial_at(CallingWindow(), NY, utc(2026, 6, 10, 9, 0), attempt_day="2026-06-10", attempts_that_day=1,
                      max_attempts_per_day=2)
    assert at == utc(2026, 6, 10, 12, 0)


def test_cap_of_today_does_not_hold_back_a_retry_due_tomorrow() -> None:
    due = utc(2026, 6, 11, 2, 0)  # 22:00 EDT: the window next opens tomorrow
    at = next_dial_at(CallingWindow(), NY, due, attempt_day="2026-06-10", attempts_that_day=2, max_attempts_per_day=2)
    assert at == utc(2026, 6, 11, 12, 0)


# --- retry context -------------------------------------------------------------------------


CALL_1 = str(uuid.UUID(int=1))
CALL_2 = str(uuid.UUID(int=2))


def test_first_retry_context_carries_the_data_stage_and_call_id() -> None:
    context = retry_context_for(None, {"name": "Ana"}, "confirm_date", CALL_1)
    assert context == {
        "collected_data": {"name": "Ana"}, "opening_message": None, "language": None,
        "stage_id": "confirm_date", "previous_call_id": CALL_1,
    }


def test_retry_context_has_the_shape_of_retry_context() -> None:
    context = retry_context_for(None, {"a": 1}, "s", CALL_1, "Hi again", "es-ES")
    assert RetryContext.model_validate(context).model_dump(mode="json") == context


def test_collected_data_keeps_earlier_attempts_and_newer_wins() -> None:
    first = retry_context_for(None, {"name": "Ana", "date": "Mon"}, "s1", CALL_1)
    second = retry_context_for(first, {"date": "Tue", "time": "10:00"}, "s2", CALL_2)
    assert second["collected_data"] == {"name": "Ana", "date": "Tue", "time": "10:00"}
    assert second["previous_call_id"] == CALL_2


def test_empty_newer_value_does_not_erase_an_older_one() -> None:
    first = retry_context_for(None, {"name": "Ana"}, "s1", CALL_1)
    assert retry_context_for(first, {"name": None}, "s1", CALL_2)["collected_data"] == {"name": "Ana"}


def test_stage_is_kept_when_the_newer_attempt_reached_none() -> None:
    first = retry_context_for(None, {}, "confirm_date", CALL_1)
    assert retry_context_for(first, {}, None, CALL_2)["stage_id"] == "confirm_date"


def test_opening_message_and_language_carry_over_unless_given() -> None:
    first = retry_context_for(None, {}, None, CALL_1, "Hi again", "es-ES")
    assert retry_context_for(first, {}, None, CALL_2)["opening_message"] == "Hi again"
    assert retry_context_for(first, {}, None, CALL_2, language="fr-FR")["language"] == "fr-FR"
