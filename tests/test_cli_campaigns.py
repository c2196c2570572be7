"""`callwright campaigns upload|status` against a running API server."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
from typer.testing import CliRunner

from callwright.cli_campaigns import campaigns_app
from tests.conftest import ApiServer


def test_upload_streams_a_csv_and_reports_accepted_and_rejected_rows(
    api_server: ApiServer, api: httpx.Client, agent: dict[str, Any], tmp_path: Path
) -> None:
    campaign = api.post("/v1/campaigns", json={"name": "CLI", "agent_id": agent["id"]}).json()
    csv_file = tmp_path / "leads.csv"
    rows = "".join(f"+1415555{n:04d},P{n}\n" for n in range(300))
    csv_file.write_text("phone_number,first_name\n" + rows + "x,Bad\n")
    key = api.headers["Authorization"].removeprefix("Bearer ")
    result = CliRunner().invoke(
        campaigns_app, ["upload", campaign["id"], str(csv_file), "--url", api_server.base_url, "--api-key", key]
    )
    assert result.exit_code == 0, result.output
    assert "300 rows accepted, 1 rejected" in result.output
    assert "row 302" in result.output
    assert api.get(f"/v1/campaigns/{campaign['id']}").json()["progress"]["total"] == 300


def test_status_prints_the_progress(api_server: ApiServer, api: httpx.Client, agent: dict[str, Any]) -> None:
    campaign = api.post("/v1/campaigns", json={"name": "Shown", "agent_id": agent["id"]}).json()
    key = api.headers["Authorization"].removeprefix("Bearer ")
    args = ["status", campaign["id"], "--url", api_server.base_url, "--api-key", key]
    result = CliRunner().invoke(campaigns_app, args)
    assert result.exit_code == 0, result.output
    assert "Shown" in result.output and "draft" in result.output


def test_an_unknown_campaign_is_reported_with_the_servers_words(api_server: ApiServer, api: httpx.Client) -> None:
    key = api.headers["Authorization"].removeprefix("Bearer ")
    result = CliRunner().invoke(
        campaigns_app,
        ["status", "00000000-0000-4000-8000-000000000000", "--url", api_server.base_url, "--api-key", key],
    )
    assert result.exit_code == 1
    assert "HTTP 404" in result.output
