"""`callwright campaigns`: upload a campaign's CSV with a progress bar, and follow a campaign.

These talk to a running server over its HTTP API (``--url``, ``--api-key`` or the
``CALLWRIGHT_API_URL`` / ``CALLWRIGHT_API_KEY`` environment variables), like any other client:
the file is streamed, so a file of millions of rows never sits in memory.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import typer

campaigns_app = typer.Typer(help="Campaigns (batch calls) on a running server.", no_args_is_help=True)

Url = Annotated[
    str, typer.Option(envvar="CALLWRIGHT_API_URL", help="The server's base URL.")
]
ApiKey = Annotated[str, typer.Option(envvar="CALLWRIGHT_API_KEY", help="An API key of the organization.")]
CHUNK = 256 * 1024


def _client(url: str, api_key: str) -> Any:
    import httpx

    if not api_key:
        raise typer.BadParameter("an API key is needed: --api-key or CALLWRIGHT_API_KEY", param_hint="--api-key")
    return httpx.Client(base_url=url.rstrip("/"), headers={"Authorization": f"Bearer {api_key}"}, timeout=600)


def _fail(response: Any) -> None:
    try:
        detail = response.json().get("detail", response.text)
    except ValueError:
        detail = response.text
    typer.secho(f"HTTP {response.status_code}: {json.dumps(detail, indent=2)}", fg="red", err=True)
    raise typer.Exit(1)


@campaigns_app.command("upload")
def upload(
    campaign_id: Annotated[str, typer.Argument(help="The campaign's ID.")],
    csv_file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True, help="The CSV file.")],
    url: Url = "http://127.0.0.1:8000",
    api_key: ApiKey = "",
    show_rejected: Annotated[int, typer.Option(help="Rejected rows to print (0: none).")] = 20,
) -> None:
    """Upload rows from CSV_FILE to a campaign, streamed, with a progress bar."""
    from rich.console import Console
    from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn, TransferSpeedColumn

    size = csv_file.stat().st_size
    console = Console(stderr=True)
    with (
        _client(url, api_key) as client,
        Progress(
            "[progress.description]{task.description}", BarColumn(), DownloadColumn(), TransferSpeedColumn(),
            TimeRemainingColumn(), console=console, transient=False,
        ) as progress,
    ):
        task = progress.add_task(f"Uploading {csv_file.name}", total=size)

        def chunks() -> Iterator[bytes]:
            with csv_file.open("rb") as f:
                while chunk := f.read(CHUNK):
                    progress.advance(task, len(chunk))
                    yield chunk
            progress.update(task, description="Validating and storing rows")

        started = time.monotonic()
        response = client.post(
            f"/v1/campaigns/{campaign_id}/contacts", content=chunks(), headers={"Content-Type": "text/csv"}
        )
    if response.status_code != 200:
        _fail(response)
    report = response.json()
    rejected = report.get("rejected", [])
    typer.echo(
        f"{report.get('accepted', 0)} rows accepted, {report.get('rejected_count', len(rejected))} rejected, "
        f"{report.get('skipped_dnc', 0)} on the do-not-call list ({time.monotonic() - started:.1f} s)"
    )
    for item in rejected[:show_rejected]:
        typer.echo(f"  row {item['row']}: {'; '.join(item['errors'])}")


@campaigns_app.command("status")
def status(
    campaign_id: Annotated[str, typer.Argument(help="The campaign's ID.")],
    url: Url = "http://127.0.0.1:8000",
    api_key: ApiKey = "",
) -> None:
    """Print a campaign's state and progress."""
    with _client(url, api_key) as client:
        response = client.get(f"/v1/campaigns/{campaign_id}")
    if response.status_code != 200:
        _fail(response)
    body = response.json()
    progress = body["progress"]
    typer.echo(f"{body['name']} ({body['id']}): {body['status']}")
    typer.echo(f"  rows: {progress['total']}, live calls: {progress['live_calls']}, attempts: {progress['attempts']}")
    typer.echo("  by state: " + ", ".join(f"{k} {v}" for k, v in progress["by_state"].items() if v))
    if progress["by_outcome"]:
        typer.echo("  by outcome: " + ", ".join(f"{k} {v}" for k, v in progress["by_outcome"].items()))

