"""`prodlens demo`: the demo project and its login from the command line."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

import pytest
from typer.testing import CliRunner

from prodlens.cli.main import cli

runner = CliRunner()


def _projects(workdir: Path) -> list[tuple[str, str]]:
    with closing(sqlite3.connect(workdir / "var" / "cli.db")) as connection:
        return connection.execute("SELECT slug, name FROM projects").fetchall()


def test_demo_creates_refuses_twice_and_resets(workdir: Path) -> None:
    assert runner.invoke(cli, ["migrate"]).exit_code == 0
    created = runner.invoke(cli, ["demo", "--days", "2", "--seed", "3"])
    assert created.exit_code == 0, created.output
    assert "Demo login: demo / " in created.output
    assert _projects(workdir) == [("demo", "Demo (generated data)")]

    again = runner.invoke(cli, ["demo", "--days", "2"])
    assert again.exit_code == 1
    assert "use --reset" in again.output
    reset = runner.invoke(cli, ["demo", "--days", "2", "--reset"])
    assert reset.exit_code == 0, reset.output
    assert _projects(workdir) == [("demo", "Demo (generated data)")]


def test_demo_refuses_the_production_profile(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PRODLENS_ENV", "production")
    monkeypatch.setenv("PRODLENS_SECRET_KEY", "production-secret-" + "x" * 40)
    monkeypatch.setenv("PRODLENS_ALLOW_SQLITE_IN_PRODUCTION", "true")
    result = runner.invoke(cli, ["demo"])
    assert result.exit_code == 1
    assert "Refusing to create a demo account in the production profile." in result.output
