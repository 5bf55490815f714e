"""Running Alembic from code: `prodlens migrate`, `serve` on SQLite, readiness, tests."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory

if TYPE_CHECKING:
    from prodlens.kit.db import Database

_PACKAGE_DIR = Path(__file__).resolve().parents[1]


def migrations_dir() -> Path:
    """Inside an installed wheel the scripts ship as `prodlens/_migrations`."""
    packaged = _PACKAGE_DIR / "_migrations"
    if packaged.is_dir():
        return packaged
    return _PACKAGE_DIR.parents[1] / "migrations"


def alembic_config(database_url: str | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(migrations_dir()))
    # Passed as an attribute, not an option: ConfigParser would choke on `%` in passwords.
    config.attributes["database_url"] = database_url
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    """Apply migrations. Blocking: call it outside the event loop (or in a thread)."""
    command.upgrade(alembic_config(database_url), revision)


def head_revisions() -> frozenset[str]:
    return frozenset(ScriptDirectory.from_config(alembic_config()).get_heads())


async def is_migrated(database: Database) -> bool:
    """True when the database is at a head revision; raises when it cannot be reached."""
    return await database.current_revision() in head_revisions()
