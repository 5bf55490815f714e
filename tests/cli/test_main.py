"""The root command: version, help, the README's command table, and a light start-up."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import typer.main
from typer.core import TyperGroup
from typer.testing import CliRunner

from prodlens import __version__
from prodlens.cli.main import cli

runner = CliRunner()
README = Path(__file__).resolve().parents[2] / "README.md"


def _command_paths(*, groups: bool) -> list[list[str]]:
    """Every command as typed after `prodlens`, and the groups too when `groups`."""
    root = typer.main.get_command(cli)
    assert isinstance(root, TyperGroup)
    paths: list[list[str]] = []
    for name, command in root.commands.items():
        if not isinstance(command, TyperGroup):
            paths.append([name])
            continue
        if groups:
            paths.append([name])
        paths.extend([name, sub] for sub in command.commands)
    return paths


# What start-up must not pay for: `--help` and `version` need Typer and Rich only.
HEAVY = (
    "asyncio",
    "scipy",
    "numpy",
    "pyarrow",
    "fastapi",
    "starlette",
    "uvicorn",
    "sqlalchemy",
    "alembic",
    "redis",
    "httpx",
    "pydantic",
    "prodlens.app",
    "prodlens.config",
)


def test_version_as_an_option_and_as_a_command() -> None:
    for args in (["--version"], ["version"]):
        result = runner.invoke(cli, args)
        assert result.exit_code == 0, result.output
        assert result.output.strip() == __version__


@pytest.mark.parametrize("command", _command_paths(groups=True), ids=" ".join)
def test_help_shows_no_type_next_to_flags(command: list[str]) -> None:
    result = runner.invoke(cli, [*command, "--help"])
    assert result.exit_code == 0, result.output
    assert "--help" in result.output
    assert "<bool>" not in result.output


def test_the_readme_lists_every_command() -> None:
    pattern = r"^\| `\.venv/bin/prodlens ([a-z][a-z-]*(?: [a-z][a-z-]*)?)"
    listed = re.findall(pattern, README.read_text(), re.MULTILINE)
    assert sorted(listed) == sorted(" ".join(path) for path in _command_paths(groups=False))


def _loaded_modules(code: str) -> list[str]:
    """The heavy modules loaded by `code` in a fresh interpreter."""
    probe = f"""
import json, sys
{code}
print(json.dumps([name for name in {HEAVY!r} if name in sys.modules]))
"""
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )
    return list(json.loads(result.stdout.splitlines()[-1]))


def test_importing_the_command_line_loads_nothing_heavy() -> None:
    assert _loaded_modules("import prodlens.cli") == []
    assert _loaded_modules("import prodlens.cli.main") == []


@pytest.mark.parametrize(
    "args", [["--help"], ["--version"], ["version"], ["serve", "--help"], ["report", "--help"]]
)
def test_help_and_version_load_nothing_heavy(args: list[str]) -> None:
    run = f"""
from prodlens.cli.main import cli
try:
    cli({args!r}, prog_name="prodlens")
except SystemExit as exit:
    assert exit.code == 0, exit.code
"""
    assert _loaded_modules(run) == []


def test_the_github_default_api_url_is_the_backfills() -> None:
    from prodlens.cli.github import GITHUB_API_URL
    from prodlens.integrations.backfill import DEFAULT_API_URL

    assert GITHUB_API_URL == DEFAULT_API_URL
