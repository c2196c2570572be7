"""Variable layering and the context sections of the instructions."""

from __future__ import annotations

from datetime import UTC, datetime

from callwright.services.variables import (
    builtin_variables,
    compose_instructions,
    compose_variables,
    format_context,
)
from callwright.templating import render


def test_builtins_include_agent_uuid_alias() -> None:
    variables = compose_variables(builtins={"agent_id": "a1", "direction": "outbound"})
    assert variables["agent_uuid"] == "a1"


def test_builtin_variables_use_callee_timezone() -> None:
    now = datetime(2026, 1, 5, 15, 0, tzinfo=UTC)
    built = builtin_variables(agent_id="a", direction="outbound", timezone="America/New_York", now=now)
    assert built["current_datetime"] == "2026-01-05T10:00:00-05:00"
    assert built["timezone"] == "America/New_York"


def test_builtin_variables_fall_back_to_utc_for_unknown_zone() -> None:
    built = builtin_variables(agent_id="a", direction="inbound", timezone="Nowhere/Land")
    assert built["timezone"] == "UTC"


def test_contact_fields_attributes_and_whole_object() -> None:
    contact = {"first_name": "Ann", "phone_number": "+15551234567", "attributes": {"tier": "gold"}}
    variables = compose_variables(contact=contact)
    assert variables["first_name"] == "Ann"
    assert variables["tier"] == "gold"
    assert variables["contact"]["attributes"] == {"tier": "gold"}


def test_contact_field_wins_over_attribute_of_same_name() -> None:
    variables = compose_variables(contact={"first_name": "Ann", "attributes": {"first_name": "X"}})
    assert variables["first_name"] == "Ann"


def test_none_contact_field_does_not_override_earlier_value() -> None:
    variables = compose_variables(builtins={"last_name": "Builtin"}, contact={"last_name": None})
    assert variables["last_name"] == "Builtin"


def test_none_contact_field_renders_empty_and_allows_default() -> None:
    variables = compose_variables(contact={"first_name": "Ann", "last_name": None})
    assert render("[{{ last_name }}|{{ last_name | default('sir') }}]", variables) == "[|sir]"


def test_later_layers_win() -> None:
    variables = compose_variables(
        builtins={"x": "builtin"},
        contact={"attributes": {"x": "contact"}},
        campaign_row={"x": "row"},
        dynamic={"x": "dynamic"},
        call_variables={"x": "call"},
    )
    assert variables["x"] == "call"


def test_dynamic_context_wins_over_campaign_row() -> None:
    variables = compose_variables(campaign_row={"amount": "1"}, dynamic={"amount": "2"})
    assert variables["amount"] == "2"


def test_call_context_wins_over_campaign_context() -> None:
    variables = compose_variables(campaign={"context": "campaign"}, call_context="call")
    assert variables["context"] == "call"


def test_campaign_context_used_when_call_has_none() -> None:
    assert compose_variables(campaign={"context": "campaign"})["context"] == "campaign"


def test_instructions_get_campaign_then_call_sections() -> None:
    text = compose_instructions("You are Acme.", "Q3 reminders", {"amount": 500, "due": "Friday"})
    assert text == (
        "You are Acme.\n\n## Campaign context\nQ3 reminders\n\n## Call context\namount: 500\ndue: Friday"
    )


def test_instructions_skip_empty_contexts() -> None:
    assert compose_instructions("Prompt", None, "") == "Prompt"


def test_format_context_nests_objects_and_lists() -> None:
    assert format_context({"a": {"b": 1}, "c": ["x", "y"]}) == "a:\n  b: 1\nc:\n  - x\n  - y"
