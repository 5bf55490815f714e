"""Settings: read once from the environment and `.env`, then passed down.

One `Settings` class with nested groups. Top-level names that operators know
from other tools (`DATABASE_URL`, `REDIS_URL`) are accepted without the
`PRODLENS_` prefix; everything else is `PRODLENS_<NAME>` or, for a nested
group, `PRODLENS_<GROUP>__<NAME>` (for example `PRODLENS_DB__POOL_SIZE`).
"""

from __future__ import annotations

import ipaddress
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Literal, Self

import limits
from pydantic import (
    AfterValidator,
    AliasChoices,
    BaseModel,
    Field,
    SecretStr,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

# Development-only secret. Production refuses to start with it (see below).
DEFAULT_SECRET_KEY = "dev-insecure-secret-key-change-me-please-0123456789"
MIN_SECRET_KEY_LENGTH = 32
SQLITE_FILE_NAME = "prodlens.db"


class Profile(StrEnum):
    DEVELOPMENT = "development"
    STAGING = "staging"
    PRODUCTION = "production"


class LogFormat(StrEnum):
    AUTO = "auto"  # console in development, JSON elsewhere
    JSON = "json"
    CONSOLE = "console"


def _split_csv(value: Any) -> Any:
    """Accept `a,b,c` from the environment as well as a real list."""
    if isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    return value


class DatabaseSettings(BaseModel):
    """Connection pool settings; they apply to PostgreSQL (SQLite uses few connections)."""

    pool_size: int = Field(10, ge=1)
    max_overflow: int = Field(20, ge=0)
    pool_timeout: float = Field(30.0, gt=0, description="Seconds to wait for a pooled connection.")
    pool_recycle: int = Field(
        3600, ge=-1, description="Seconds after which a connection is renewed."
    )
    pool_pre_ping: bool = True
    echo: bool = False
    health_timeout: float = Field(2.0, gt=0, description="Seconds before a health probe gives up.")
    connect_timeout: float = Field(
        3.0, gt=0, description="Seconds to open a PostgreSQL connection before giving up."
    )
    statement_timeout: float = Field(
        3.0, gt=0, description="Longest a PostgreSQL statement of a request may run."
    )
    unavailable_retry_after: int = Field(
        5, ge=1, description="`Retry-After` seconds on 503s while the database is unavailable."
    )


class RedisSettings(BaseModel):
    key_prefix: str = "prodlens:"
    socket_timeout: float = Field(1.0, gt=0)
    retry_seconds: float = Field(
        5.0, gt=0, description="While Redis is unreachable, how often to try it again."
    )


class HttpSettings(BaseModel):
    cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    trusted_proxies: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="IPs/CIDRs whose X-Forwarded-For / Forwarded headers are believed.",
    )
    cors_allow_credentials: bool = True
    max_body_bytes: int = Field(1024 * 1024, ge=1024)
    max_ingest_body_bytes: int = Field(10 * 1024 * 1024, ge=1024)
    gzip_minimum_size: int = Field(1000, ge=0)
    slow_request_seconds: float = Field(2.0, gt=0)
    maintenance_retry_after: int = Field(120, ge=1, description="Seconds in `Retry-After`.")
    max_json_depth: int = Field(
        64, ge=2, le=512, description="Deepest nesting of arrays/objects in a JSON body."
    )
    header_timeout_seconds: float = Field(
        10.0, gt=0, description="Longest a client may take to send a request's headers."
    )
    body_timeout_seconds: float = Field(
        30.0, gt=0, description="Longest a client may take to send a request's body."
    )

    _split_lists = field_validator("cors_origins", "trusted_proxies", mode="before")(_split_csv)

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for entry in value:
            ipaddress.ip_network(entry, strict=False)  # raises ValueError on a typo
        return value


class JwtKey(BaseModel):
    """One signing key of the ring: a shared secret (HS256) or an Ed25519 PEM pair (EdDSA)."""

    kid: str = Field(pattern=r"^[A-Za-z0-9._-]{1,64}$")
    secret: SecretStr | None = None
    private_key: SecretStr | None = Field(None, description="PEM; only the active key needs it.")
    public_key: str | None = Field(None, description="PEM, for EdDSA verification.")


class AuthSettings(BaseModel):
    access_token_minutes: int = Field(30, ge=1, le=24 * 60)
    refresh_token_days: int = Field(7, ge=1, description="Absolute session lifetime.")
    session_idle_minutes: int = Field(
        24 * 60, ge=1, description="A session unused (no refresh) this long is closed."
    )
    refresh_reuse_grace_seconds: int = Field(10, ge=0)
    jwt_algorithm: Literal["HS256", "EdDSA"] = "HS256"
    jwt_issuer: str = "prodlens"
    jwt_audience: str = "prodlens-api"
    jwt_keys: list[JwtKey] = Field(
        default_factory=list,
        description="Key ring as JSON; empty: one HS256 key derived from the secret key.",
    )
    jwt_active_kid: str | None = Field(None, description="Signing key; default: the first.")
    password_policy: Literal["nist", "classic"] = "nist"
    argon2_memory_kib: int = Field(19456, ge=1024)
    argon2_time_cost: int = Field(2, ge=1)
    argon2_parallelism: int = Field(1, ge=1)
    lockout_threshold: int = Field(5, ge=1)
    lockout_minutes: int = Field(30, ge=1)
    reset_token_minutes: int = Field(60, ge=5)
    verify_token_hours: int = Field(24, ge=1)
    reset_email_cooldown_seconds: int = Field(60, ge=0)
    cookie_secure: bool | None = Field(None, description="Default: secure outside development.")

    @model_validator(mode="after")
    def _keys_fit_algorithm(self) -> Self:
        for key in self.jwt_keys:
            if self.jwt_algorithm == "HS256" and key.secret is None:
                raise ValueError(f"JWT key {key.kid!r} needs a secret for HS256")
            if self.jwt_algorithm == "EdDSA" and key.public_key is None:
                raise ValueError(f"JWT key {key.kid!r} needs a public_key for EdDSA")
        kids = [key.kid for key in self.jwt_keys]
        if len(set(kids)) != len(kids):
            raise ValueError("JWT key ids must be unique")
        if self.jwt_active_kid and self.jwt_active_kid not in kids:
            raise ValueError(f"jwt_active_kid {self.jwt_active_kid!r} is not in jwt_keys")
        if self.jwt_algorithm == "EdDSA" and not self.jwt_keys:
            raise ValueError("EdDSA needs jwt_keys with an Ed25519 key pair")
        return self


class EmailSettings(BaseModel):
    backend: Literal["auto", "outbox", "smtp"] = Field(
        "auto", description="auto: SMTP when smtp_host is set, else files in <data_dir>/outbox."
    )
    from_address: str = "ProdLens <no-reply@localhost>"
    smtp_host: str | None = None
    smtp_port: int = Field(587, ge=1, le=65535)
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_starttls: bool = True
    smtp_tls: bool = False
    smtp_timeout: float = Field(10.0, gt=0)

    @property
    def uses_smtp(self) -> bool:
        return self.backend == "smtp" or (self.backend == "auto" and bool(self.smtp_host))


def _valid_rate(value: str) -> str:
    if len(limits.parse_many(value)) != 1:  # parse_many raises on anything else
        raise ValueError("give one limit, such as '100/minute'")
    return value


RateString = Annotated[str, AfterValidator(_valid_rate)]


class RateLimitSettings(BaseModel):
    """Limits in the `limits` notation ("100/minute"); each is a policy of ratelimit/."""

    enabled: bool = True
    general: RateString = Field("100/minute", description="Every API request, per client.")
    login_ip: RateString = "10/minute"
    login_identifier: RateString = "10/minute"
    password_reset: RateString = "5/minute"
    registration: RateString = "10/hour"
    refresh: RateString = "30/minute"
    ingest: RateString = Field("600/minute", description="Per API key.")


class ServerSettings(BaseModel):
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    workers: int = Field(1, ge=1)
    graceful_shutdown_seconds: int = Field(30, ge=1)
    event_loop: Literal["uvloop", "asyncio"] = Field(
        "uvloop",
        description="uvloop: less CPU per request; asyncio: a shorter tail when many "
        "connections open at once.",
    )
    startup_timeout_seconds: int = Field(
        120, ge=5, description="How long a worker may take to start before it is replaced."
    )


class RealtimeSettings(BaseModel):
    """The WebSocket feed (`/api/v1/ws`, docs/realtime.md). Limits are per worker process."""

    send_queue: int = Field(
        256, ge=1, description="Messages queued for one socket before it is closed as too slow."
    )
    ping_seconds: float = Field(20.0, gt=0, description="Server `ping` interval.")
    idle_seconds: float = Field(60.0, gt=0, description="Close a client silent this long.")
    auth_seconds: float = Field(
        5.0, gt=0, description="Time for the first message to authenticate."
    )
    max_message_bytes: int = Field(16 * 1024, ge=256, description="Largest client message.")
    max_connections_per_user: int = Field(20, ge=1)
    max_connections_per_ip: int = Field(200, ge=1)
    max_subscriptions: int = Field(50, ge=1, description="Projects one socket may follow.")
    messages_per_minute: int = Field(120, ge=1, description="Client messages per socket.")
    kpi_interval_seconds: float = Field(
        1.0, ge=1.0, description="At most one `kpis` message per project this often."
    )
    compression: bool = Field(
        False,
        description="Offer permessage-deflate; small messages gain little, and it costs "
        "about 40 KiB of memory per socket and a quarter of the feed's CPU.",
    )


class CopilotSettings(BaseModel):
    """Fetching GitHub Copilot usage reports (docs/assistants.md). Which organization or
    enterprise, and the token, are per project (`…/integrations/copilot`)."""

    fetch_interval_minutes: int = Field(
        360,
        ge=0,
        le=7 * 24 * 60,
        description="`prodlens serve` fetches every configured project this often; 0: never.",
    )
    startup_delay_seconds: float = Field(
        60.0, ge=0, description="Wait after start before the first scheduled fetch."
    )
    api_url: str = Field(
        "https://api.github.com",
        pattern=r"^https?://",
        description="GitHub REST API base URL (GitHub Enterprise Cloud with data residency: "
        "its own API URL).",
    )
    initial_days: int = Field(
        28, ge=1, le=365, description="Days fetched by a project's first fetch."
    )
    max_rate_limit_wait_seconds: float = Field(
        300.0,
        ge=0,
        description="Wait this long at most for GitHub's rate limit to reset; longer: stop "
        "and try at the next fetch.",
    )


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="PRODLENS_",
        env_file=".env",
        env_file_encoding="utf-8",
        env_nested_delimiter="__",
        extra="ignore",
        populate_by_name=True,
    )

    env: Profile = Profile.DEVELOPMENT
    secret_key: SecretStr = SecretStr(DEFAULT_SECRET_KEY)
    database_url: str = Field(
        "",
        validation_alias=AliasChoices("DATABASE_URL", "PRODLENS_DATABASE_URL"),
        description="Empty: the embedded SQLite database `<data_dir>/prodlens.db`.",
    )
    allow_sqlite_in_production: bool = False
    redis_url: str | None = Field(
        None, validation_alias=AliasChoices("REDIS_URL", "PRODLENS_REDIS_URL")
    )
    data_dir: Path = Path("var")
    maintenance_mode: bool = False
    demo_on_empty: bool = Field(
        True,
        description="Development only: `serve` on a database without accounts creates the demo.",
    )
    docs_enabled: bool | None = Field(
        None,
        description="Serve /docs, /redoc and the OpenAPI document; default: not in production.",
    )
    public_url: str | None = Field(None, description="Base URL advertised in OpenAPI `servers`.")
    log_level: str = "INFO"
    log_format: LogFormat = LogFormat.AUTO

    db: DatabaseSettings = Field(default_factory=DatabaseSettings)
    redis: RedisSettings = Field(default_factory=RedisSettings)
    http: HttpSettings = Field(default_factory=HttpSettings)
    server: ServerSettings = Field(default_factory=ServerSettings)
    auth: AuthSettings = Field(default_factory=AuthSettings)
    rate_limits: RateLimitSettings = Field(default_factory=RateLimitSettings)
    email: EmailSettings = Field(default_factory=EmailSettings)
    realtime: RealtimeSettings = Field(default_factory=RealtimeSettings)
    copilot: CopilotSettings = Field(default_factory=CopilotSettings)

    @field_validator("redis_url", "public_url", "docs_enabled", mode="before")
    @classmethod
    def _empty_is_none(cls, value: Any) -> Any:
        return None if value == "" else value

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        level = value.upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise ValueError(f"unknown log level {value!r}")
        return level

    @field_validator("database_url")
    @classmethod
    def _supported_database(cls, value: str) -> str:
        if value and not value.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            raise ValueError(
                "DATABASE_URL must start with sqlite+aiosqlite:// or postgresql+asyncpg://"
            )
        return value

    @model_validator(mode="after")
    def _embedded_database_in_data_dir(self) -> Self:
        if not self.database_url:
            self.database_url = f"sqlite+aiosqlite:///{self.data_dir / SQLITE_FILE_NAME}"
        return self

    @model_validator(mode="after")
    def _production_is_safe(self) -> Self:
        problems = self.production_problems()
        if problems:
            raise ValueError(
                "refusing to start in production:" + "".join(f"\n  - {p}" for p in problems)
            )
        return self

    def production_problems(self) -> list[str]:
        """What makes this configuration unsafe for production (empty when fine)."""
        if self.env is not Profile.PRODUCTION:
            return []
        problems = []
        secret = self.secret_key.get_secret_value()
        if secret == DEFAULT_SECRET_KEY:
            problems.append("PRODLENS_SECRET_KEY is the development default; set a random one")
        elif len(secret) < MIN_SECRET_KEY_LENGTH:
            problems.append(
                f"PRODLENS_SECRET_KEY is shorter than {MIN_SECRET_KEY_LENGTH} characters"
            )
        if "*" in self.http.cors_origins and self.http.cors_allow_credentials:
            problems.append(
                "CORS allows any origin ('*') together with credentials; list the origins"
            )
        for key in self.auth.jwt_keys:
            if (
                key.secret is not None
                and len(key.secret.get_secret_value()) < MIN_SECRET_KEY_LENGTH
            ):
                problems.append(
                    f"JWT key {key.kid!r}: secret shorter than {MIN_SECRET_KEY_LENGTH} characters"
                )
        if self.is_sqlite and not self.allow_sqlite_in_production:
            problems.append(
                "DATABASE_URL is SQLite; use PostgreSQL or set "
                "PRODLENS_ALLOW_SQLITE_IN_PRODUCTION=true"
            )
        return problems

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def base_url(self) -> str:
        """Where users reach this server (links in emails)."""
        return (self.public_url or f"http://{self.server.host}:{self.server.port}").rstrip("/")

    @property
    def cookie_secure(self) -> bool:
        if self.auth.cookie_secure is not None:
            return self.auth.cookie_secure
        return not self.is_development

    @property
    def is_development(self) -> bool:
        return self.env is Profile.DEVELOPMENT

    @property
    def serve_docs(self) -> bool:
        if self.docs_enabled is not None:
            return self.docs_enabled
        return self.env is not Profile.PRODUCTION

    @property
    def json_logs(self) -> bool:
        if self.log_format is LogFormat.AUTO:
            return not self.is_development
        return self.log_format is LogFormat.JSON
