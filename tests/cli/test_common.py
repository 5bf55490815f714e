"""What every command shares: one message for a database that is not migrated or cannot
be reached, and a configuration error's exit status."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from prodlens.cli.common import NOT_MIGRATED
from prodlens.cli.main import cli

runner = CliRunner()
NEEDS_THE_DATABASE = {
    "create-admin": [
        "create-admin", "--email", "a@example.com", "--username", "boss", "--password-stdin"
    ],
    "demo": ["demo", "--days", "1"],
    "ingest": ["ingest", "events.jsonl", "--project", "pilot"],
    "report": ["report", "--project", "pilot", "--since", str(date.today() - timedelta(days=7))],
    "github backfill": ["github", "backfill", "--repo", "acme/web", "--token-env", "NO_TOKEN"],
}  # fmt: skip


def _invoke(workdir: Path, args: list[str]) -> tuple[int, str]:
    (workdir / "events.jsonl").write_text("{}\n")
    result = runner.invoke(cli, args, input="sturdy-admin-passphrase-9\n")
    return result.exit_code, " ".join(result.output.split())


@pytest.mark.parametrize("args", NEEDS_THE_DATABASE.values(), ids=NEEDS_THE_DATABASE.keys())
def test_an_unmigrated_database_is_explained(workdir: Path, args: list[str]) -> None:
    code, output = _invoke(workdir, args)
    assert code == 1, output
    assert NOT_MIGRATED in output
    assert "Traceback" not in output


@pytest.mark.parametrize("args", NEEDS_THE_DATABASE.values(), ids=NEEDS_THE_DATABASE.keys())
def test_an_unreachable_database_is_explained(
    workdir: Path, args: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Nothing listens on port 1: the connection is refused at once.
    monkeypatch.setenv("DATABASE_URL", "postgresql+asyncpg://prodlens@127.0.0.1:1/prodlens")
    code, output = _invoke(workdir, args)
    assert code == 1, output
    assert "The database cannot be reached" in output
    assert "Traceback" not in output


def test_a_configuration_error_exits_2(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PRODLENS_SERVER__PORT", "not-a-port")
    code, output = _invoke(workdir, NEEDS_THE_DATABASE["report"])
    assert code == 2
    assert "Configuration error" in output
    assert "server.port" in output
