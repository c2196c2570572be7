"""The `callwright` command: serve, worker, migrate, keys, and (with the voice engine) demo, chat."""

from __future__ import annotations

import asyncio
import os
from typing import Annotated, Any

import typer

from callwright.settings import Settings, get_settings

app = typer.Typer(help="Callwright: self-hostable AI phone calls.", no_args_is_help=True, add_completion=False)
keys_app = typer.Typer(help="API keys.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Bind address.")] = None,
    port: Annotated[int | None, typer.Option(help="Bind port.")] = None,
    workers: Annotated[
        int,
        typer.Option(
            min=1,
            help="Server processes sharing the port. Each runs its own in-process workers (and, with the voice "
            "runtime on, dials the calls it accepted); keep 1 on SQLite.",
        ),
    ] = 1,
) -> None:
    """Start the API and carrier webhooks, plus the process roles of CALLWRIGHT_ROLES (all by default;
    `none` for an API-only process). Applies migrations first."""
    import uvicorn

    from callwright.app import create_app
    from callwright.observability import configure_logging

    settings = get_settings()
    if host:
        settings.host = host
    if port:
        settings.port = port
    configure_logging(settings.log_level, settings.log_json)
    options: dict[str, Any] = dict(
        host=settings.host, port=settings.port, log_config=None, access_log=False, ws_ping_interval=None
    )
    base = settings.public_url.rstrip("/") or f"http://{settings.host}:{settings.port}"
    typer.echo(f"Dashboard: {base}/app (sign in with an API key)")
    if workers == 1:
        uvicorn.run(create_app(settings), **options)
        return
    # Worker processes build their own app from the environment: pass the overrides on, and migrate
    # and make the bootstrap key once here so the workers do not race each other for them.
    os.environ["CALLWRIGHT_HOST"] = settings.host
    os.environ["CALLWRIGHT_PORT"] = str(settings.port)
    asyncio.run(_prepare_store(settings))
    os.environ["CALLWRIGHT_BOOTSTRAP_KEY"] = "false"
    uvicorn.run("callwright.app:app_from_env", factory=True, workers=workers, **options)


def _worker_roles(text: str) -> frozenset[str]:
    """``--roles``: a non-empty subset of dial, media, jobs; anything else is refused by name."""
    from callwright.domain.roles import UnknownRole, parse_roles

    try:
        roles = parse_roles(text)
    except UnknownRole as exc:
        raise typer.BadParameter(str(exc), param_hint="--roles") from exc
    if not roles:
        raise typer.BadParameter("a worker needs at least one role: dial, media, jobs", param_hint="--roles")
    return roles


@app.command()
def worker(
    roles: Annotated[
        str,
        typer.Option(
            help="Comma-separated roles: dial (claim and dial due calls), media (take Media Streams on "
            "--host/--port and run the calls), jobs (webhooks, analysis, context)."
        ),
    ] = "dial,media,jobs",
    host: Annotated[str | None, typer.Option(help="Bind address of the media stream endpoint.")] = None,
    port: Annotated[int | None, typer.Option(help="Bind port of the media stream endpoint.")] = None,
) -> None:
    """Run process roles without the API, beside `serve` processes on the same database and broker."""
    from callwright.observability import configure_logging
    from callwright.runtime import worker_stream_url

    chosen = _worker_roles(roles)
    settings = get_settings()
    if host:
        settings.host = host
    if port:
        settings.port = port
    configure_logging(settings.log_level, settings.log_json)
    if "media" not in chosen:
        asyncio.run(_run_headless(settings, chosen))
        return
    import uvicorn

    from callwright.app import create_worker_app

    media_url = worker_stream_url(settings)
    uvicorn.run(
        create_worker_app(settings, chosen, media_url=media_url),
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=False,
        ws_ping_interval=None,
    )


async def _run_headless(settings: Settings, roles: frozenset[str]) -> None:
    """A worker with no media role listens on nothing: it runs until SIGINT or SIGTERM."""
    import signal

    from callwright.app import worker_process

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with worker_process(settings, roles):
        await stop.wait()


async def _prepare_store(settings: Settings) -> None:
    from callwright.app import bootstrap_key, print_bootstrap_key
    from callwright.store.db import Database

    db = Database(settings.database_url)
    try:
        await db.migrate()
        if settings.bootstrap_key:
            print_bootstrap_key(await bootstrap_key(db))
    finally:
        await db.dispose()


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


def _port_free(host: str, port: int) -> bool:
    import socket

    with socket.socket() as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def main() -> None:  # pragma: no cover - console entry
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    app()


@app.command()
def demo(
    keep_serving: Annotated[bool, typer.Option(help="Keep the server running after the demo call.")] = False,
    port: Annotated[int | None, typer.Option(help="Port for the demo server.")] = None,
) -> None:
    """Start the platform on embedded defaults and place a simulated appointment-confirmation call."""
    from callwright.demo import run_demo
    from callwright.observability import configure_logging

    settings = get_settings()
    if port:
        settings.port = port
    if not _port_free(settings.host, settings.port):
        typer.secho(
            f"Port {settings.port} on {settings.host} is already in use; choose another with --port "
            "(or CALLWRIGHT_PORT).",
            fg="red",
            err=True,
        )
        raise typer.Exit(2)
    configure_logging("WARNING", as_json=False)
    try:
        final = asyncio.run(run_demo(settings, keep_serving))
    except KeyboardInterrupt:
        return
    if final.get("status") != "completed":
        raise typer.Exit(1)


@app.command()
def chat(agent_id: Annotated[str, typer.Argument(help="The agent's ID.")]) -> None:
    """Talk to an agent in text mode (the same dialogue engine as a call, no audio)."""
    import uuid

    import sqlalchemy as sa

    from callwright.dialogue.inputs import DialogueDeps
    from callwright.net import SafeHttpClient
    from callwright.services import chat as chat_service
    from callwright.services.errors import Conflict
    from callwright.services.http_tools import HttpToolRunner
    from callwright.services.model_servers import model_servers
    from callwright.services.secrets import SecretBox, load_root_key
    from callwright.store.db import Database
    from callwright.store.tables import agents

    async def _run() -> None:
        settings = get_settings()
        db = Database(settings.database_url)
        http = SafeHttpClient(allow_private=settings.allow_private_urls)
        box = SecretBox(load_root_key(settings.secret_key, settings.data_dir))
        deps = DialogueDeps(servers=model_servers(settings), tools=HttpToolRunner(http, box))
        try:
            await db.migrate()
            async with db.read() as conn:
                org_id = (
                    await conn.execute(sa.select(agents.c.org_id).where(agents.c.id == uuid.UUID(agent_id)))
                ).scalar()
            if org_id is None:
                raise typer.BadParameter(f"no agent {agent_id}")
            try:
                reply = await chat_service.chat(db, org_id, uuid.UUID(agent_id), text="", deps=deps)
            except Conflict as exc:  # the agent's engine cannot run here: say why and stop
                typer.secho(str(exc), fg="red", err=True)
                raise typer.Exit(2) from exc
            while True:
                for call in reply.tool_calls:
                    verdict = "ok" if call.get("ok") else "failed"
                    line = f"  [tool {call['name']}({call['arguments']}) {verdict}: {call.get('result')}]"
                    typer.secho(line, dim=True)
                for line in reply.replies:
                    typer.secho(f"agent> {line}", fg="magenta")
                if reply.ended:
                    typer.echo(f"[ended: {reply.outcome}] results: {reply.results}")
                    return
                text = await asyncio.to_thread(input, "you> ")
                reply = await chat_service.chat(
                    db, org_id, uuid.UUID(agent_id), text=text, session_id=uuid.UUID(reply.session_id), deps=deps
                )
        finally:
            await http.aclose()
            await db.dispose()

    try:
        asyncio.run(_run())
    except (EOFError, KeyboardInterrupt):
        typer.echo("")


if __name__ == "__main__":
    main()
