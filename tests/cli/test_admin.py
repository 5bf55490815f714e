"""`migrate`, `check` and `create-admin`."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from typer.testing import CliRunner

from prodlens.app import create_app
from prodlens.cli.main import cli
from prodlens.config import Settings
from tests.conftest import serving

runner = CliRunner()


def test_migrate_then_check_passes(workdir: Path) -> None:
    migrated = runner.invoke(cli, ["migrate"])
    assert migrated.exit_code == 0, migrated.output
    assert (workdir / "var" / "cli.db").exists()
    checked = runner.invoke(cli, ["check"])
    assert checked.exit_code == 0, checked.output
    assert "migrations" in checked.output
    assert "FAIL" not in checked.output


def test_check_fails_on_unmigrated_database(workdir: Path) -> None:
    result = runner.invoke(cli, ["check"])
    assert result.exit_code == 1
    assert "prodlens migrate" in result.output


def test_check_fails_when_redis_unreachable(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert runner.invoke(cli, ["migrate"]).exit_code == 0
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:1/0")
    result = runner.invoke(cli, ["check"])
    assert result.exit_code == 1
    assert "redis unreachable" in result.output


def test_production_refusal_is_a_clear_message(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PRODLENS_ENV", "production")
    result = runner.invoke(cli, ["check"])
    assert result.exit_code == 2
    assert "Configuration error" in result.output
    assert "PRODLENS_SECRET_KEY is the development default" in result.output
    assert "Traceback" not in result.output


def test_env_file_in_working_directory_is_used(workdir: Path) -> None:
    (workdir / ".env").write_text("PRODLENS_ENV=production\n")
    result = runner.invoke(cli, ["check"])
    assert result.exit_code == 2


def test_create_admin_reads_password_from_stdin(workdir: Path) -> None:
    assert runner.invoke(cli, ["migrate"]).exit_code == 0
    result = runner.invoke(
        cli,
        ["create-admin", "--email", "boss@example.com", "--username", "boss", "--password-stdin"],
        input="sturdy-admin-passphrase-9\n",
    )
    assert result.exit_code == 0, result.output
    assert "sturdy-admin-passphrase-9" not in result.output

    async def admin_route_status() -> int:
        url = f"sqlite+aiosqlite:///{workdir}/var/cli.db"
        async with serving(create_app(Settings(_env_file=None, database_url=url))) as client:
            login = await client.post(
                "/api/v1/auth/login",
                json={"username": "boss", "password": "sturdy-admin-passphrase-9"},
            )
            headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
            return (await client.get("/api/v1/users", headers=headers)).status_code

    assert asyncio.run(admin_route_status()) == 200


def test_create_admin_prompts_and_refuses_weak_passwords(workdir: Path) -> None:
    assert runner.invoke(cli, ["migrate"]).exit_code == 0
    result = runner.invoke(
        cli,
        ["create-admin"],
        input="boss@example.com\nboss\npassword1234\npassword1234\n",
    )
    assert result.exit_code == 1
    assert "too common" in result.output


def test_create_admin_on_unmigrated_database_says_what_to_do(workdir: Path) -> None:
    result = runner.invoke(
        cli,
        ["create-admin", "--email", "a@example.com", "--username", "boss", "--password-stdin"],
        input="sturdy-admin-passphrase-9\n",
    )
    assert result.exit_code == 1
    assert "prodlens migrate" in result.output
    assert "Traceback" not in result.output
