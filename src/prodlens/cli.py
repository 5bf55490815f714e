"""The `prodlens` command line."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from typing import Annotated

import typer
import uvicorn
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table
from sqlalchemy.exc import IntegrityError

from prodlens import __version__
from prodlens.analytics import demo, report_cli
from prodlens.analytics.ingest.cli import ingest_command
from prodlens.auth import service as accounts
from prodlens.auth.models import Role
from prodlens.auth.runtime import build_auth_runtime
from prodlens.auth.schemas import RegisterRequest
from prodlens.auth.service import NewAccount
from prodlens.config import Settings
from prodlens.integrations.cli import github_cli
from prodlens.kit.clock import SystemClock
from prodlens.kit.db import Database
from prodlens.kit.errors import ProblemError
from prodlens.kit.migrations import head_revisions, upgrade
from prodlens.kit.state import create_state_store
from prodlens.kit.tasks import TaskRunner
from prodlens.observability import metrics
from prodlens.observability.logging import configure_logging

cli = typer.Typer(
    name="prodlens",
    help="ProdLens: what AI coding assistants do for engineering teams.",
    no_args_is_help=True,
    add_completion=False,
)
console = Console()
errors = Console(stderr=True)


class NotMigrated(Exception):
    pass


def load_settings() -> Settings:
    """Settings from the environment and `.env`, or a clear message and exit code 2."""
    try:
        return Settings()
    except ValidationError as exc:
        errors.print("[bold red]Configuration error[/]")
        for err in exc.errors():
            where = ".".join(str(part) for part in err["loc"]) or "settings"
            errors.print(f"  {where}: {err['msg'].removeprefix('Value error, ')}")
        raise typer.Exit(2) from None


@cli.command()
def serve(
    host: Annotated[
        str | None, typer.Option(help="Interface to bind [PRODLENS_SERVER__HOST].")
    ] = None,
    port: Annotated[int | None, typer.Option(help="Port [PRODLENS_SERVER__PORT].")] = None,
    workers: Annotated[int | None, typer.Option(min=1, help="Worker processes.")] = None,
    reload: Annotated[bool, typer.Option(help="Restart on code changes (development).")] = False,
    migrate: Annotated[
        bool | None,
        typer.Option(help="Apply migrations first (default: yes for SQLite, no otherwise)."),
    ] = None,
) -> None:
    """Serve the API (and apply migrations to the embedded SQLite database)."""
    settings = load_settings()
    configure_logging(settings)
    host = host or settings.server.host
    port = port or settings.server.port
    workers = workers or settings.server.workers
    if migrate if migrate is not None else settings.is_sqlite:
        upgrade(settings.database_url)
    # SPEC §1: a first run in development gets something to look at (never in production).
    created = (
        asyncio.run(demo.create_if_empty(settings))
        if demo.wanted_on_empty_database(settings)
        else None
    )
    if workers > 1 and not settings.redis_url:
        errors.print(
            "[yellow]Warning:[/] several workers without REDIS_URL each keep their own rate "
            "limits, lockouts and revocations; set REDIS_URL to share them."
        )
    if workers > 1 and not reload:
        # Must be set before any worker imports prometheus_client.
        directory = settings.data_dir.resolve() / "prometheus"
        metrics.prepare_multiprocess_dir(directory)
        os.environ[metrics.MULTIPROC_ENV] = str(directory)

    # uvicorn shuts down gracefully on SIGTERM, then re-raises the signal with the previous
    # handler restored; this one turns that into a clean exit status 0.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))

    base = f"http://{host}:{port}"
    console.print(f"[bold]ProdLens {__version__}[/] ({settings.env.value}) on {base}")
    console.print(f"  API      {base}/api/v1")
    if settings.serve_docs:
        console.print(f"  Docs     {base}/docs")
    console.print(f"  Health   {base}/health/ready")
    console.print(f"  Metrics  {base}/metrics")
    if created is not None:
        console.print(
            f"  Demo login: {created.username} / {created.password}  "
            f"(project {demo.DEMO_NAME!r}; the password is shown once)"
        )
    uvicorn.run(
        "prodlens.app:serve_app",
        factory=True,
        host=host,
        port=port,
        workers=None if reload else workers,
        reload=reload,
        log_config=None,  # our logging, configured by the app factory
        access_log=False,  # one access line per request comes from our middleware
        proxy_headers=False,  # client IPs are resolved by our trusted-proxy rules
        server_header=False,
        timeout_graceful_shutdown=settings.server.graceful_shutdown_seconds,
    )


@cli.command()
def migrate(revision: Annotated[str, typer.Argument(help="Target revision.")] = "head") -> None:
    """Apply database migrations (Alembic) up to REVISION."""
    settings = load_settings()
    configure_logging(settings)
    upgrade(settings.database_url, revision)
    console.print(f"Database migrated to {revision}.")


async def _dependency_rows(settings: Settings) -> list[tuple[str, bool, str]]:
    rows: list[tuple[str, bool, str]] = []
    database = Database(settings)
    try:
        revision = await database.current_revision()
    except Exception as exc:  # reported, not raised: that is the point of `check`
        rows.append(("database", False, f"unreachable: {type(exc).__name__}: {exc}"))
    else:
        rows.append(("database", True, f"{database.backend} reachable"))
        heads = head_revisions()
        current = revision in heads
        detail = f"at {revision or 'nothing'}" + ("" if current else "; run `prodlens migrate`")
        rows.append(("migrations", current, detail))
    finally:
        await database.dispose()
    store = create_state_store(
        settings.redis_url,
        key_prefix=settings.redis.key_prefix,
        socket_timeout=settings.redis.socket_timeout,
        retry_seconds=settings.redis.retry_seconds,
    )
    try:
        await store.ping()
        rows.append(("shared state", True, f"{store.backend} reachable"))
    except Exception as exc:  # reported, not raised
        rows.append(("shared state", False, f"{store.backend} unreachable: {exc}"))
    finally:
        await store.close()
    return rows


@cli.command()
def check() -> None:
    """Check the configuration and that every dependency answers; exit 1 on problems."""
    settings = load_settings()
    rows = asyncio.run(_dependency_rows(settings))
    table = Table(title=f"ProdLens {__version__} ({settings.env.value})")
    table.add_column("check")
    table.add_column("status")
    table.add_column("detail")
    table.add_row("configuration", "[green]ok[/]", "settings valid")
    for name, ok, detail in rows:
        table.add_row(name, "[green]ok[/]" if ok else "[red]FAIL[/]", detail)
    console.print(table)
    if not all(ok for _, ok, _ in rows):
        raise typer.Exit(1)


async def _create_admin(settings: Settings, account: NewAccount) -> str:
    database = Database(settings)
    store = create_state_store(
        settings.redis_url,
        key_prefix=settings.redis.key_prefix,
        socket_timeout=settings.redis.socket_timeout,
        retry_seconds=settings.redis.retry_seconds,
    )
    rt = build_auth_runtime(
        settings,
        clock=SystemClock(),
        store=store,
        tasks=TaskRunner(),
        sessionmaker=database.sessionmaker,
    )
    try:
        if await database.current_revision() not in head_revisions():
            raise NotMigrated()
        async with database.sessionmaker() as session, session.begin():
            accounts.check_password(
                rt, account.password, email=account.email, username=account.username
            )
            user = await accounts.create_user(session, rt, account, role=Role.ADMIN, verified=True)
            return user.id
    finally:
        await store.close()
        await database.dispose()


@cli.command("create-admin")
def create_admin(
    email: Annotated[str, typer.Option(prompt=True, help="The admin's email address.")],
    username: Annotated[str, typer.Option(prompt=True, help="Login name (3-32 characters).")],
    display_name: Annotated[
        str | None, typer.Option(help="Shown name (default: the username).")
    ] = None,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input.")
    ] = False,
) -> None:
    """Create an administrator account (the password is prompted for, never an argument)."""
    settings = load_settings()
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        details = RegisterRequest(
            email=email, username=username, password=password, display_name=display_name or username
        )
    except ValidationError as exc:
        for err in exc.errors():
            errors.print(f"[red]{err['loc'][0]}[/]: {err['msg']}")
        raise typer.Exit(2) from None
    account = NewAccount(details.email, details.username, details.password, details.display_name)
    try:
        user_id = asyncio.run(_create_admin(settings, account))
    except ProblemError as exc:
        errors.print(f"[red]{exc.title}[/]: {exc.detail}")
        raise typer.Exit(1) from None
    except IntegrityError:
        errors.print("[red]An account already uses this email address.[/]")
        raise typer.Exit(1) from None
    except NotMigrated:
        errors.print("[red]The database is not migrated:[/] run `prodlens migrate` first.")
        raise typer.Exit(1) from None
    console.print(f"Admin [bold]{details.username}[/] created (id {user_id}).")


cli.command("report")(report_cli.report)
cli.command("demo")(demo.demo_command)
cli.add_typer(github_cli, name="github")
cli.command("ingest")(ingest_command)


@cli.command()
def version() -> None:
    """Print the version."""
    console.print(__version__)


def main() -> None:
    cli(prog_name="prodlens")


if __name__ == "__main__":
    main()
