"""What the commands share: the consoles, settings, one error type, the database checks.

`prodlens --help` imports this module and every command module, so at module
level they import Typer, Rich, the standard library and plain constants only;
the server, the database layer, Pydantic and the domain code are imported inside
the functions that use them (tests/cli/test_main.py holds them to it).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Coroutine
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any, TypeVar

import typer
from rich.console import Console
from rich.text import Text
from typer.core import TyperCommand, TyperGroup

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from prodlens.config import Settings
    from prodlens.kit.db import Database
    from prodlens.projects.models import Project

console = Console()
errors = Console(stderr=True)

NOT_MIGRATED = "The database is not migrated: run `prodlens migrate` first."
T = TypeVar("T")


class CliError(Exception):
    """A reason to stop, phrased for the operator: printed in red, then `exit_code`
    (1, or 2 for a configuration or usage error)."""

    def __init__(self, message: str, *, exit_code: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code


class _PlainFlags:
    """Help and flags as they should be, over two Typer habits."""

    def get_params(self, ctx: Any) -> Any:
        params = super().get_params(ctx)  # type: ignore[misc]
        for param in params:
            # Typer shows `<bool>` next to a flag in the help, though a flag takes no value.
            if getattr(param, "is_flag", False) and param.metavar is None:
                param.metavar = ""
        return params

    def get_help_option(self, ctx: Any) -> Any:
        option = super().get_help_option(ctx)  # type: ignore[misc]
        if option is not None and option.default is None:
            # Typer coerces the absent flag's None through Pydantic: False needs no
            # coercion, and `prodlens version` then never imports Pydantic.
            option.default = False
        return option


class CliCommand(_PlainFlags, TyperCommand):
    """A command of ours (see `_PlainFlags`)."""


class CliGroup(_PlainFlags, TyperGroup):
    """A command group of ours: a `CliError` raised by any command below it becomes its
    message on standard error and its exit status."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except CliError as exc:
            errors.print(Text(exc.message, style="red"), soft_wrap=True)
            raise typer.Exit(exc.exit_code) from None


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    """`asyncio.run`, importing asyncio only when a command runs: the import alone
    costs about a tenth of a second of CPU, which `--help` need not pay."""
    import asyncio

    return asyncio.run(coroutine)


def load_settings() -> Settings:
    """Settings from the environment and `.env`; a CliError (exit 2) naming each problem."""
    from pydantic import ValidationError

    from prodlens.config import Settings

    try:
        return Settings()
    except ValidationError as exc:
        problems = [
            f"  {'.'.join(str(part) for part in err['loc']) or 'settings'}: "
            + err["msg"].removeprefix("Value error, ")
            for err in exc.errors()
        ]
        raise CliError("\n".join(["Configuration error", *problems]), exit_code=2) from None


def require_writable_storage(settings: Settings) -> None:
    """SQLite: its folder exists (or can be made) on a writable volume, else a CliError
    naming it; a server that can write nothing would only fail every write later."""
    import os
    from pathlib import Path

    from sqlalchemy.engine import make_url

    url = make_url(settings.database_url)
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return
    folder = Path(url.database).resolve().parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CliError(
            f"Cannot create the database folder {folder}: {exc.strerror}. "
            "Set PRODLENS_DATABASE_URL (or PRODLENS_DATA_DIR) to a writable place."
        ) from None
    if not os.access(folder, os.W_OK) or os.statvfs(folder).f_flag & os.ST_RDONLY:
        raise CliError(
            f"The database folder {folder} is read-only. "
            "Set PRODLENS_DATABASE_URL (or PRODLENS_DATA_DIR) to a writable place."
        )


def apply_migrations(settings: Settings, revision: str = "head") -> None:
    """`alembic upgrade`, with a failure to reach or write the database as a CliError."""
    from sqlalchemy.exc import SQLAlchemyError

    from prodlens.kit.migrations import upgrade

    require_writable_storage(settings)
    try:
        upgrade(settings.database_url, revision)
    except (OSError, TimeoutError, SQLAlchemyError) as exc:
        reason = getattr(exc, "orig", None) or exc
        raise CliError(f"Cannot migrate the database: {reason}") from None


@asynccontextmanager
async def migrated_database(settings: Settings) -> AsyncIterator[Database]:
    """The database, once it is known to be reachable and migrated; disposed afterwards."""
    from sqlalchemy.exc import SQLAlchemyError

    from prodlens.kit.db import Database
    from prodlens.kit.migrations import is_migrated

    database = Database(settings)
    try:
        try:
            migrated = await is_migrated(database)
        except (OSError, TimeoutError, SQLAlchemyError) as exc:
            raise CliError(f"The database cannot be reached: {exc}") from None
        if not migrated:
            raise CliError(NOT_MIGRATED)
        yield database
    finally:
        await database.dispose()


async def require_project(session: AsyncSession, reference: str) -> Project:
    """The project with this id or slug, or a CliError."""
    from prodlens.projects.service import find_project

    project = await find_project(session, reference)
    if project is None:
        raise CliError(f"No project with id or slug {reference!r}.")
    return project
