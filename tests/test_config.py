from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from prodlens.config import DEFAULT_SECRET_KEY, Settings

STRONG_SECRET = "x" * 48
POSTGRES_URL = "postgresql+asyncpg://prodlens@db/prodlens"


def production(**values: object) -> Settings:
    defaults: dict[str, Any] = {
        "env": "production",
        "secret_key": STRONG_SECRET,
        "database_url": POSTGRES_URL,
    }
    defaults.update(values)
    return Settings(_env_file=None, **defaults)


def test_production_with_safe_settings_starts() -> None:
    settings = production()
    assert settings.serve_docs is False
    assert settings.json_logs is True


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"secret_key": DEFAULT_SECRET_KEY}, "development default"),
        ({"secret_key": "short-secret"}, "shorter than 32"),
        ({"http": {"cors_origins": "*", "cors_allow_credentials": True}}, "any origin"),
        ({"database_url": "sqlite+aiosqlite:///./var/x.db"}, "SQLite"),
    ],
)
def test_production_refuses_unsafe_settings(values: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        production(**values)


def test_production_sqlite_allowed_explicitly() -> None:
    settings = production(
        database_url="sqlite+aiosqlite:///./var/x.db", allow_sqlite_in_production=True
    )
    assert settings.is_sqlite


def test_development_accepts_defaults() -> None:
    settings = Settings(_env_file=None)
    assert settings.is_development
    assert settings.is_sqlite
    assert settings.serve_docs


def test_environment_names(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", POSTGRES_URL)
    monkeypatch.setenv("REDIS_URL", "redis://cache:6379/0")
    monkeypatch.setenv("PRODLENS_ENV", "staging")
    monkeypatch.setenv("PRODLENS_DB__POOL_SIZE", "7")
    monkeypatch.setenv("PRODLENS_HTTP__CORS_ORIGINS", "https://a.example, https://b.example")
    settings = Settings(_env_file=None)
    assert settings.database_url == POSTGRES_URL
    assert settings.redis_url == "redis://cache:6379/0"
    assert settings.env == "staging"
    assert settings.db.pool_size == 7
    assert settings.http.cors_origins == ["https://a.example", "https://b.example"]


def test_env_file_is_read(tmp_path: object, monkeypatch: pytest.MonkeyPatch) -> None:
    from pathlib import Path

    assert isinstance(tmp_path, Path)
    env_file = tmp_path / ".env"
    env_file.write_text("PRODLENS_LOG_LEVEL=debug\nPRODLENS_SERVER__PORT=9001\n")
    settings = Settings(_env_file=env_file)
    assert settings.log_level == "DEBUG"
    assert settings.server.port == 9001


def test_unsupported_database_url_is_refused() -> None:
    with pytest.raises(ValidationError, match="DATABASE_URL must start with"):
        Settings(_env_file=None, database_url="mysql://x/y")


def test_pool_defaults() -> None:
    db = Settings(_env_file=None).db
    assert (db.pool_size, db.max_overflow, db.pool_timeout, db.pool_recycle, db.pool_pre_ping) == (
        10,
        20,
        30.0,
        3600,
        True,
    )


def test_production_refuses_short_jwt_key_secrets() -> None:
    with pytest.raises(ValidationError, match="JWT key 'k1'"):
        production(auth={"jwt_keys": [{"kid": "k1", "secret": "too-short"}]})


def test_one_limit_per_rate_setting() -> None:
    with pytest.raises(ValidationError, match="give one limit"):
        Settings(_env_file=None, rate_limits={"general": "10/minute;100/hour"})
