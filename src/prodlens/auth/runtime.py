"""The auth machinery, built once per app and shared by routes and services."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.types import Scope

from prodlens.auth.lockout import Lockout
from prodlens.auth.passwords import PasswordHasher
from prodlens.auth.revocations import OnRevoke, Revocations
from prodlens.auth.tokens import KeyRing
from prodlens.config import Settings
from prodlens.kit.clock import Clock
from prodlens.kit.mailer import Mailer, create_mailer
from prodlens.kit.state import StateStore
from prodlens.kit.tasks import TaskRunner


@dataclass
class AuthRuntime:
    settings: Settings
    clock: Clock
    hasher: PasswordHasher
    keys: KeyRing
    lockout: Lockout
    revocations: Revocations
    mailer: Mailer
    store: StateStore
    tasks: TaskRunner
    sessionmaker: async_sessionmaker[AsyncSession]


def build_auth_runtime(
    settings: Settings,
    *,
    clock: Clock,
    store: StateStore,
    tasks: TaskRunner,
    sessionmaker: async_sessionmaker[AsyncSession],
    on_revoke: OnRevoke | None = None,
) -> AuthRuntime:
    auth = settings.auth
    return AuthRuntime(
        settings=settings,
        clock=clock,
        hasher=PasswordHasher(auth),
        keys=KeyRing(auth, secret_key=settings.secret_key.get_secret_value(), clock=clock),
        lockout=Lockout(
            store, clock, threshold=auth.lockout_threshold, minutes=auth.lockout_minutes
        ),
        revocations=Revocations(
            store,
            sessionmaker,
            access_token_seconds=auth.access_token_minutes * 60,
            on_revoke=on_revoke,
        ),
        mailer=create_mailer(settings.email, data_dir=settings.data_dir),
        store=store,
        tasks=tasks,
        sessionmaker=sessionmaker,
    )


def app_auth_runtime(scope: Scope) -> AuthRuntime:
    """The app's runtime, for code that has a scope (middleware) rather than a dependency."""
    runtime: AuthRuntime = scope["app"].state.auth
    return runtime
