"""Password reset and email verification with single-use, expiring, hashed tokens.

Requests (reset, resend) are answered at once and handled in the background:
the answer and its timing are the same whether or not the account exists.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from prodlens.audit import service as audit
from prodlens.auth import emails
from prodlens.auth.errors import InvalidOneTimeToken
from prodlens.auth.models import OneTimeToken, TokenPurpose, User
from prodlens.auth.runtime import AuthRuntime
from prodlens.auth.service import email_key, issue_one_time_token, set_password
from prodlens.kit.client import ClientInfo
from prodlens.kit.secrets import hash_secret
from prodlens.observability import metrics


async def _cooled_down(runtime: AuthRuntime, key: str) -> bool:
    """True (and the cooldown restarts) when no email of this kind went out recently.

    Concurrent requests that read the same last-sent time race for a single claim on
    it, so a burst of requests sends one email, not one each.
    """
    cooldown = runtime.settings.auth.reset_email_cooldown_seconds
    if cooldown == 0:
        return True
    now = runtime.clock.now()
    last = await runtime.store.get(key)
    if last is not None and now - datetime.fromisoformat(last) < timedelta(seconds=cooldown):
        return False
    ttl = cooldown + 60
    if not await runtime.store.set_if_absent(f"{key}:after:{last}", "1", ttl=ttl):
        return False
    await runtime.store.set(key, now.isoformat(), ttl=ttl)
    return True


def request_password_reset(runtime: AuthRuntime, email: str, client: ClientInfo) -> None:
    metrics.PASSWORD_RESETS.labels("requested").inc()
    runtime.tasks.spawn(_send_password_reset(runtime, email, client), name="password_reset_email")


async def _send_password_reset(runtime: AuthRuntime, email: str, client: ClientInfo) -> None:
    async with runtime.sessionmaker() as session, session.begin():
        user = await session.scalar(select(User).where(User.email_key == email_key(email)))
        if user is None or not user.is_active:
            return
        if not await _cooled_down(runtime, f"reset-email:{user.id}"):
            metrics.PASSWORD_RESETS.labels("throttled").inc()
            return
        token = await issue_one_time_token(session, runtime, user, TokenPurpose.PASSWORD_RESET)
        audit.record(
            session,
            "password.reset_requested",
            at=runtime.clock.now(),
            client=client,
            user_id=user.id,
        )
    minutes = runtime.settings.auth.reset_token_minutes
    await runtime.mailer.send(
        emails.password_reset(
            user, token=token, base_url=runtime.settings.base_url, minutes=minutes
        )
    )


async def _consume(
    session: AsyncSession, runtime: AuthRuntime, token: str, purpose: TokenPurpose
) -> OneTimeToken:
    row = await session.scalar(
        select(OneTimeToken).where(
            OneTimeToken.token_hash == hash_secret(token), OneTimeToken.purpose == purpose
        )
    )
    now = runtime.clock.now()
    if row is None or row.used_at is not None or now >= row.expires_at:
        raise InvalidOneTimeToken("This link or code is invalid, already used or expired.")
    row.used_at = now
    return row


async def confirm_password_reset(
    session: AsyncSession,
    runtime: AuthRuntime,
    *,
    token: str,
    new_password: str,
    client: ClientInfo,
) -> None:
    """Set the new password. Does not sign in: every session ends, the user logs in anew."""
    row = await _consume(session, runtime, token, TokenPurpose.PASSWORD_RESET)
    user = await session.get(User, row.user_id)
    if user is None or not user.is_active:
        raise InvalidOneTimeToken("This link or code is invalid, already used or expired.")
    await set_password(
        session, runtime, user, new_password, keep_session=None, reason="password_reset"
    )
    metrics.PASSWORD_RESETS.labels("completed").inc()
    audit.record(session, "password.reset", at=runtime.clock.now(), client=client, user_id=user.id)


def resend_verification(runtime: AuthRuntime, email: str, client: ClientInfo) -> None:
    runtime.tasks.spawn(_send_verification(runtime, email, client), name="verification_email")


async def _send_verification(runtime: AuthRuntime, email: str, client: ClientInfo) -> None:
    async with runtime.sessionmaker() as session, session.begin():
        user = await session.scalar(select(User).where(User.email_key == email_key(email)))
        if user is None or user.is_verified or not user.is_active:
            return
        if not await _cooled_down(runtime, f"verify-email:{user.id}"):
            return
        token = await issue_one_time_token(session, runtime, user, TokenPurpose.EMAIL_VERIFICATION)
    hours = runtime.settings.auth.verify_token_hours
    await runtime.mailer.send(
        emails.verification(user, token=token, base_url=runtime.settings.base_url, hours=hours)
    )


async def verify_email(
    session: AsyncSession, runtime: AuthRuntime, *, token: str, client: ClientInfo
) -> User:
    row = await _consume(session, runtime, token, TokenPurpose.EMAIL_VERIFICATION)
    user = await session.get(User, row.user_id)
    if user is None:
        raise InvalidOneTimeToken("This link or code is invalid, already used or expired.")
    user.is_verified = True
    user.updated_at = runtime.clock.now()
    audit.record(
        session, "user.email_verified", at=runtime.clock.now(), client=client, user_id=user.id
    )
    return user
