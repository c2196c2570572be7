"""The `callwright` command: serve, migrate, keys, and (with the voice engine) demo, chat, call."""

from __future__ import annotations

import asyncio
import os
from typing import Annotated

import typer

from callwright.settings import get_settings

app = typer.Typer(help="Callwright: self-hostable AI phone calls.", no_args_is_help=True, add_completion=False)
keys_app = typer.Typer(help="API keys.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Bind address.")] = None,
    port: Annotated[int | None, typer.Option(help="Bind port.")] = None,
) -> None:
    """Start the API, the dashboard and the in-process workers (applies migrations first)."""
    import uvicorn

    from callwright.app import create_app
    from callwright.observability import configure_logging

    settings = get_settings()
    if host:
        settings.host = host
    if port:
        settings.port = port
    configure_logging(settings.log_level, settings.log_json)
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_config=None,
                access_log=False, ws_ping_interval=None)


@app.command()
def migrate() -> None:
    """Apply database migrations and exit."""
    from callwright.store.db import Database

    async def _run() -> None:
        db = Database(get_settings().database_url)
        try:
            await db.migrate()
        finally:
            await db.dispose()

    asyncio.run(_run())
    typer.echo("database is up to date")


@keys_app.command("create")
def keys_create(
    org: Annotated[str, typer.Option("--org", help="Organization name; created if needed.")],
    name: Annotated[str, typer.Option(help="A label for the key.")] = "",
) -> None:
    """Create an API key; the key is printed alone on the last line and never shown again."""
    from callwright.services.orgs import create_key
    from callwright.store.db import Database

    async def _run() -> str:
        db = Database(get_settings().database_url)
        try:
            await db.migrate()
            return (await create_key(db, org, name)).key
        finally:
            await db.dispose()

    key = asyncio.run(_run())
    typer.echo(f"Created an API key for organization {org!r}. Store it now; it cannot be shown again.")
    typer.echo(key)


def main() -> None:  # pragma: no cover - console entry
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    app()
