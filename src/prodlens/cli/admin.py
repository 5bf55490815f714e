"""Operating the installation: `migrate`, `check` and `create-admin`."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated

import typer

from prodlens import __version__
from prodlens.cli.common import (
    CliError,
    apply_migrations,
    console,
    load_settings,
    migrated_database,
    run,
)

if TYPE_CHECKING:
    from prodlens.auth.service import NewAccount
    from prodlens.config import Settings


def migrate(revision: Annotated[str, typer.Argument(help="Target revision.")] = "head") -> None:
    """Apply database migrations (Alembic) up to REVISION."""
    from prodlens.observability.logging import configure_logging

    settings = load_settings()
    configure_logging(settings)
    apply_migrations(settings, revision)
    console.print(f"Database migrated to {revision}.")


async def _dependency_rows(settings: Settings) -> list[tuple[str, bool, str]]:
    from prodlens.kit.db import Database
    from prodlens.kit.migrations import head_revisions
    from prodlens.kit.state import state_store_from_settings

    rows: list[tuple[str, bool, str]] = []
    database = Database(settings)
    try:
        revision = await database.current_revision()
    except Exception as exc:  # reported, not raised: that is the point of `check`
        rows.append(("database", False, f"unreachable: {type(exc).__name__}: {exc}"))
    else:
        rows.append(("database", True, f"{database.backend} reachable"))
        current = revision in head_revisions()
        detail = f"at {revision or 'nothing'}" + ("" if current else "; run `prodlens migrate`")
        rows.append(("migrations", current, detail))
    finally:
        await database.dispose()
    store = state_store_from_settings(settings)
    try:
        await store.ping()
        rows.append(("shared state", True, f"{store.backend} reachable"))
    except Exception as exc:  # reported, not raised
        rows.append(("shared state", False, f"{store.backend} unreachable: {exc}"))
    finally:
        await store.close()
    return rows


def check() -> None:
    """Check the configuration and that every dependency answers; exit 1 on problems."""
    from rich.table import Table

    settings = load_settings()
    rows = run(_dependency_rows(settings))
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
    from sqlalchemy.exc import IntegrityError

    from prodlens.auth import service as accounts
    from prodlens.auth.models import Role
    from prodlens.auth.runtime import build_auth_runtime
    from prodlens.kit.clock import SystemClock
    from prodlens.kit.errors import ProblemError
    from prodlens.kit.state import state_store_from_settings
    from prodlens.kit.tasks import TaskRunner

    async with migrated_database(settings) as database:
        store = state_store_from_settings(settings)
        runtime = build_auth_runtime(
            settings,
            clock=SystemClock(),
            store=store,
            tasks=TaskRunner(),
            sessionmaker=database.sessionmaker,
        )
        try:
            async with database.sessionmaker() as session, session.begin():
                accounts.check_password(
                    runtime, account.password, email=account.email, username=account.username
                )
                user = await accounts.create_user(
                    session, runtime, account, role=Role.ADMIN, verified=True
                )
                return user.id
        except ProblemError as exc:
            raise CliError(f"{exc.title}: {exc.detail}") from None
        except IntegrityError:
            raise CliError("An account already uses this email address.") from None
        finally:
            await store.close()


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
    from pydantic import ValidationError

    from prodlens.auth.schemas import RegisterRequest
    from prodlens.auth.service import NewAccount

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
        problems = [f"{err['loc'][0]}: {err['msg']}" for err in exc.errors()]
        raise CliError("\n".join(problems), exit_code=2) from None
    account = NewAccount(details.email, details.username, details.password, details.display_name)
    user_id = run(_create_admin(settings, account))
    console.print(f"Admin [bold]{details.username}[/] created (id {user_id}).")
