"""Each seed document's request example for creating a call is accepted as written."""

from __future__ import annotations

from typing import Any

import httpx


def test_seed_000_lead_with_object_context_and_first_message(api: httpx.Client, agent: dict[str, Any]) -> None:
    body = {
        "lead": {"phone_number": "+15551234567", "first_name": "Alice", "last_name": "Johnson"},
        "call": {
            "context": {
                "customer_tier": "VIP",
                "previous_purchase": True,
                "interested_in": "Enterprise Plan",
                "budget_range": "500-1000",
                "decision_timeline": "This month",
            },
            "first_message": "Hello Alice, I'm calling from Acme Corp. I see you've been looking at our "
            "Enterprise Plan - I'd love to discuss how it can help your business.",
        },
    }
    r = api.post("/v1/calls", json=body)
    assert r.status_code == 201, r.text
    call = r.json()
    assert call["to"] == "+15551234567"
    assert call["context"]["customer_tier"] == "VIP"
    assert call["first_message"].startswith("Hello Alice, I'm calling from Acme Corp.")
    contact = api.get(f"/v1/contacts/{call['contact_id']}").json()
    assert (contact["first_name"], contact["last_name"]) == ("Alice", "Johnson")


def test_seed_000_lead_id_with_string_context(api: httpx.Client, agent: dict[str, Any]) -> None:
    api.post("/v1/contacts", json={"phone_number": "+14155552700", "external_id": "123"})
    body = {
        "lead_id": 123,
        "call": {"context": "VIP customer, previous purchase history, interested in enterprise upgrade"},
    }
    r = api.post("/v1/calls", json=body)
    assert r.status_code == 201, r.text
    assert r.json()["to"] == "+14155552700"
    assert r.json()["context"].startswith("VIP customer")
    assert "VIP customer" in r.json()["prompt"]


def test_seed_000_call_source_in_the_call_object(api: httpx.Client, agent: dict[str, Any]) -> None:
    body = {
        "to": "+14155552701",
        "call": {
            "call_source": "crm_lead_qualification",
            "context": {
                "source": "LinkedIn ad",
                "landing_page": "/enterprise",
                "form_data": {"company_size": "100+", "industry": "Technology"},
            },
        },
    }
    call = api.post("/v1/calls", json=body).json()
    assert call["call_source"] == "crm_lead_qualification"
    assert call["context"]["form_data"]["industry"] == "Technology"
    listed = api.get("/v1/conversations", params={"call_source": "crm_lead_qualification"}).json()["data"]
    assert [c["id"] for c in listed] == [call["id"]]


def test_seed_002_parameters_with_customer_phone(api: httpx.Client, agent: dict[str, Any]) -> None:
    body = {
        "agent_id": agent["id"],
        "parameters": [
            {"name": "customer_phone", "value": "+919876543210"},
            {"name": "customer_name", "value": "Rahul"},
            {"name": "loan_id", "value": "LN-12345"},
        ],
    }
    r = api.post("/v1/call", json=body)
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["status"] == "initiated" and len(out["trace_id"]) == 32
    call = api.get(f"/v1/conversations/{out['conversation_id']}").json()
    assert call["to"] == "+919876543210"
    assert call["variables"]["customer_name"] == "Rahul" and call["variables"]["loan_id"] == "LN-12345"


def test_seed_002_without_customer_phone_is_a_422(api: httpx.Client, agent: dict[str, Any]) -> None:
    r = api.post("/v1/call", json={"agent_id": agent["id"], "parameters": [{"name": "customer_name", "value": "R"}]})
    assert r.status_code == 422 and "customer_phone" in r.text


def test_seed_002_scheduled_call_reports_scheduled(api: httpx.Client, agent: dict[str, Any]) -> None:
    r = api.post(
        "/v1/call",
        json={
            "agent_id": agent["id"],
            "scheduled_for": "2099-01-01T09:00:00Z",
            "parameters": [{"name": "customer_phone", "value": "+919876543211"}],
        },
    )
    assert r.json()["status"] == "scheduled"


def test_seed_004_example_with_prompt_tags(api: httpx.Client) -> None:
    agent = api.post(
        "/v1/agents",
        json={
            "name": "Collections",
            "prompt": "You are a collections agent. The customer owes {{amount}} due by {{due_date}}.\n"
            "Be professional and offer payment plan options if the customer cannot pay in full.",
        },
    ).json()
    body = {
        "numberToCall": "+1234567890",
        "firstName": "John",
        "aiSettingsTemplateId": agent["id"],
        "promptTags": {"amount": "$500.00", "due_date": "January 15, 2026"},
    }
    r = api.post("/ai/phone-calls/action/call", json=body)
    assert r.status_code == 201, r.text
    call = r.json()
    assert call["to"] == "+1234567890"
    assert call["prompt"].startswith("You are a collections agent. The customer owes $500.00 due by January 15, 2026.")
    assert api.get(f"/v1/contacts/{call['contact_id']}").json()["first_name"] == "John"


def test_seed_004_metadata_is_kept_for_webhooks(api: httpx.Client, agent: dict[str, Any]) -> None:
    r = api.post(
        "/ai/phone-calls/action/call",
        json={
            "numberToCall": "0501234567",
            "countryCode": "SA",
            "metadata": {"deal": "D-9"},
            "aiSettingsTemplateId": agent["id"],
        },
    )
    assert r.status_code == 201
    assert r.json()["to"] == "+966501234567" and r.json()["metadata"] == {"deal": "D-9"}


def test_seed_004_country_code_must_be_two_capitals(api: httpx.Client, agent: dict[str, Any]) -> None:
    r = api.post("/ai/phone-calls/action/call", json={"numberToCall": "0501234567", "countryCode": "sa"})
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == ["body", "countryCode"]


def test_seed_004_empty_number_is_a_422(api: httpx.Client, agent: dict[str, Any]) -> None:
    r = api.post("/ai/phone-calls/action/call", json={"numberToCall": ""})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "numberToCall"]
