"""Account rules: registration, login, refresh rotation, sessions, password change.

No HTTP here. Events whose request is answered with an error (failed login,
refresh-token reuse) are written in their own transaction so the rollback of
the request does not erase them.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from prodlens.audit import service as audit
from prodlens.auth import emails
from prodlens.auth.devices import describe_device
from prodlens.auth.errors import (
    AccountLocked,
    CurrentPasswordRequired,
    InvalidCredentials,
    InvalidRefreshToken,
    RefreshTokenReused,
    SessionNotFound,
    UsernameTaken,
    WrongPassword,
)
from prodlens.auth.models import AuthSession, OneTimeToken, RefreshToken, Role, TokenPurpose, User
from prodlens.auth.passwords import check_policy, context_words
from prodlens.auth.runtime import AuthRuntime
from prodlens.kit.client import ClientInfo
from prodlens.kit.db import after_commit, even_if_rolled_back
from prodlens.kit.ids import new_id
from prodlens.kit.mailer import Email
from prodlens.kit.secrets import hash_secret, new_secret
from prodlens.observability import metrics


@dataclass(frozen=True)
class IssuedTokens:
    access_token: str
    refresh_token: str
    expires_in: int
    session_id: str


@dataclass(frozen=True)
class NewAccount:
    email: str
    username: str
    password: str
    display_name: str


def email_key(email: str) -> str:
    return email.strip().lower()


def username_key(username: str) -> str:
    return username.strip().lower()


def send_after_commit(session: AsyncSession, runtime: AuthRuntime, mail: Email) -> None:
    async def send() -> None:
        await runtime.mailer.send(mail)

    after_commit(session, send)


async def find_by_identifier(session: AsyncSession, identifier: str) -> User | None:
    """A username or an email address (usernames cannot contain '@')."""
    if "@" in identifier:
        condition = User.email_key == email_key(identifier)
    else:
        condition = User.username_key == username_key(identifier)
    return await session.scalar(select(User).where(condition))


def check_password(runtime: AuthRuntime, password: str, *, email: str, username: str) -> None:
    check_policy(
        password,
        context=context_words(email=email, username=username),
        policy=runtime.settings.auth.password_policy,
    )


async def create_user(
    session: AsyncSession,
    runtime: AuthRuntime,
    account: NewAccount,
    *,
    role: Role = Role.USER,
    verified: bool = False,
    password_hash: str | None = None,
) -> User:
    """Insert an account; raises `UsernameTaken`, or IntegrityError for a taken email."""
    password_hash = password_hash or await runtime.hasher.hash(account.password)
    user = _new_user(runtime, account, password_hash, role=role, verified=verified)
    await _check_username(session, user)
    async with session.begin_nested():  # a lost race on the unique keys fails only this insert
        session.add(user)
    return user


def _new_user(
    runtime: AuthRuntime,
    account: NewAccount,
    password_hash: str,
    *,
    role: Role = Role.USER,
    verified: bool = False,
) -> User:
    now = runtime.clock.now()
    return User(
        email=account.email.strip(),
        email_key=email_key(account.email),
        username=account.username.strip(),
        username_key=username_key(account.username),
        display_name=account.display_name.strip(),
        password_hash=password_hash,
        role=role,
        tier="free",
        is_active=True,
        is_verified=verified,
        created_at=now,
        updated_at=now,
        password_changed_at=now,
    )


async def _check_username(session: AsyncSession, user: User) -> None:
    taken = await session.scalar(select(User.id).where(User.username_key == user.username_key))
    if taken:
        raise UsernameTaken(f"The username {user.username!r} is taken.")


async def register(
    session: AsyncSession, runtime: AuthRuntime, account: NewAccount, client: ClientInfo
) -> None:
    """Create an account and send its verification email.

    For an email that already has an account the answer is the same; its owner
    gets a "you already have an account" email instead.
    """
    check_password(runtime, account.password, email=account.email, username=account.username)
    # Hash before looking up, so both outcomes cost the same time.
    password_hash = await runtime.hasher.hash(account.password)
    existing = await session.scalar(select(User).where(User.email_key == email_key(account.email)))
    if existing is not None:
        await _rehearse_new_account(session, runtime, account, password_hash)
        send_after_commit(
            session,
            runtime,
            emails.already_registered(existing, base_url=runtime.settings.base_url),
        )
        audit.record(
            session,
            "user.register_existing_email",
            at=runtime.clock.now(),
            client=client,
            user_id=existing.id,
        )
        return
    try:
        user = await create_user(session, runtime, account, password_hash=password_hash)
    except IntegrityError:  # the email was registered a moment ago by a concurrent request
        return
    token = await issue_one_time_token(session, runtime, user, TokenPurpose.EMAIL_VERIFICATION)
    hours = runtime.settings.auth.verify_token_hours
    send_after_commit(
        session,
        runtime,
        emails.verification(user, token=token, base_url=runtime.settings.base_url, hours=hours),
    )
    audit.record(
        session,
        "user.registered",
        at=runtime.clock.now(),
        client=client,
        user_id=user.id,
        actor_id=user.id,
    )


async def _rehearse_new_account(
    session: AsyncSession, runtime: AuthRuntime, account: NewAccount, password_hash: str
) -> None:
    """The statements of a new account (username check, user row, verification token),
    in a savepoint rolled back at the end.

    A taken email would otherwise answer measurably sooner than a new one (these
    statements are most of what a registration costs besides the hash), and the
    difference would tell who has an account. The savepoint stands in for the one
    `create_user` opens around its insert: the same number of round trips.
    """
    stand_in = NewAccount(
        email=f"{new_id()}@registration.invalid",
        username=f"~{secrets.token_hex(12)}",  # "~" is no username character: no clash
        password=account.password,
        display_name=account.display_name,
    )
    user = _new_user(runtime, stand_in, password_hash)
    rehearsal = await session.begin_nested()
    try:
        await _check_username(session, user)
        session.add(user)
        await session.flush()
        await issue_one_time_token(session, runtime, user, TokenPurpose.EMAIL_VERIFICATION)
    finally:
        await rehearsal.rollback()


async def issue_one_time_token(
    session: AsyncSession, runtime: AuthRuntime, user: User, purpose: TokenPurpose
) -> str:
    """A new single-use token; older unused tokens of the same purpose stop working."""
    now = runtime.clock.now()
    await session.execute(
        update(OneTimeToken)
        .where(
            OneTimeToken.user_id == user.id,
            OneTimeToken.purpose == purpose,
            OneTimeToken.used_at.is_(None),
        )
        .values(used_at=now)
    )
    if purpose is TokenPurpose.PASSWORD_RESET:
        lifetime = timedelta(minutes=runtime.settings.auth.reset_token_minutes)
    else:
        lifetime = timedelta(hours=runtime.settings.auth.verify_token_hours)
    token = new_secret()
    session.add(
        OneTimeToken(
            user_id=user.id,
            purpose=purpose,
            token_hash=hash_secret(token),
            created_at=now,
            expires_at=now + lifetime,
        )
    )
    await session.flush()
    return token


async def login(
    session: AsyncSession,
    runtime: AuthRuntime,
    *,
    identifier: str,
    password: str,
    client: ClientInfo,
    device: str | None = None,
) -> IssuedTokens:
    identifier = identifier.strip()
    locked_until = await runtime.lockout.locked_until(identifier)
    if locked_until is not None:
        metrics.LOGINS.labels("locked").inc()
        audit.record_even_if_rolled_back(
            session, "login.locked", at=runtime.clock.now(), client=client, identifier=identifier
        )
        retry_after = max(1, int((locked_until - runtime.clock.now()).total_seconds()))
        raise AccountLocked(
            "Too many failed attempts for this account; try again later or reset the password.",
            headers={"Retry-After": str(retry_after)},
        )

    user = await find_by_identifier(session, identifier)
    # Unknown accounts are verified against a dummy hash: the same time, the same answer.
    valid = await runtime.hasher.verify(user.password_hash if user else None, password)
    if not valid or user is None or not user.is_active:
        await _login_failed(session, runtime, identifier, user, client)
        raise InvalidCredentials("Invalid username/email or password.")

    await runtime.lockout.clear(identifier)
    now = runtime.clock.now()
    if runtime.hasher.needs_rehash(user.password_hash):
        user.password_hash = await runtime.hasher.hash(password)
    user.last_login_at = now
    tokens = await open_session(session, runtime, user, client, device=device)
    metrics.LOGINS.labels("success").inc()
    metrics.TOKENS_ISSUED.labels("password").inc()
    audit.record(
        session,
        "login.success",
        at=now,
        client=client,
        user_id=user.id,
        actor_id=user.id,
        identifier=identifier,
        details={"session_id": tokens.session_id},
    )
    return tokens


async def _login_failed(
    session: AsyncSession,
    runtime: AuthRuntime,
    identifier: str,
    user: User | None,
    client: ClientInfo,
) -> None:
    metrics.LOGINS.labels("failure").inc()
    locked = await runtime.lockout.record_failure(identifier)
    user_id = user.id if user else None
    now = runtime.clock.now()
    audit.record_even_if_rolled_back(
        session,
        "login.failure",
        at=now,
        client=client,
        user_id=user_id,
        identifier=identifier,
    )
    if locked:
        metrics.LOCKOUTS.inc()
        audit.record_even_if_rolled_back(
            session,
            "account.locked",
            at=now,
            client=client,
            user_id=user_id,
            identifier=identifier,
            details={"minutes": runtime.settings.auth.lockout_minutes},
        )


async def open_session(
    session: AsyncSession,
    runtime: AuthRuntime,
    user: User,
    client: ClientInfo,
    *,
    device: str | None,
) -> IssuedTokens:
    now = runtime.clock.now()
    auth_session = AuthSession(
        user_id=user.id,
        created_at=now,
        last_used_at=now,
        expires_at=now + timedelta(days=runtime.settings.auth.refresh_token_days),
        ip=client.ip,
        user_agent=client.user_agent[:512] if client.user_agent else None,
        device=(device or describe_device(client.user_agent) or "")[:100] or None,
    )
    session.add(auth_session)
    await session.flush()
    return await _issue_pair(session, runtime, auth_session)


async def _issue_pair(
    session: AsyncSession, runtime: AuthRuntime, auth_session: AuthSession
) -> IssuedTokens:
    refresh_token = new_secret()
    session.add(
        RefreshToken(
            session_id=auth_session.id,
            token_hash=hash_secret(refresh_token),
            created_at=runtime.clock.now(),
        )
    )
    await session.flush()
    access_token, expires_in = runtime.keys.issue_access(
        user_id=auth_session.user_id, session_id=auth_session.id
    )
    return IssuedTokens(access_token, refresh_token, expires_in, auth_session.id)


def session_is_open(runtime: AuthRuntime, auth_session: AuthSession, now: datetime) -> bool:
    idle = timedelta(minutes=runtime.settings.auth.session_idle_minutes)
    return (
        auth_session.revoked_at is None
        and now < auth_session.expires_at
        and now - auth_session.last_used_at < idle
    )


async def session_of_refresh_token(session: AsyncSession, refresh_token: str) -> str | None:
    return await session.scalar(
        select(RefreshToken.session_id).where(RefreshToken.token_hash == hash_secret(refresh_token))
    )


async def refresh(
    session: AsyncSession, runtime: AuthRuntime, *, refresh_token: str, client: ClientInfo
) -> IssuedTokens:
    """Exchange a refresh token for a new pair; a rotated token presented again after
    the grace window revokes the whole session (someone else has a copy)."""
    row = await session.scalar(
        select(RefreshToken).where(RefreshToken.token_hash == hash_secret(refresh_token))
    )
    if row is None:
        metrics.REFRESHES.labels("invalid").inc()
        raise InvalidRefreshToken()
    auth_session = await session.get(AuthSession, row.session_id)
    now = runtime.clock.now()
    if auth_session is None or not session_is_open(runtime, auth_session, now):
        metrics.REFRESHES.labels("expired").inc()
        raise InvalidRefreshToken("The session has ended; sign in again.")
    if row.rotated_at is not None:
        grace = timedelta(seconds=runtime.settings.auth.refresh_reuse_grace_seconds)
        if now - row.rotated_at > grace:
            await _revoke_for_reuse(session, runtime, auth_session, client)
            raise RefreshTokenReused("This refresh token was already used; sign in again.")
    else:
        row.rotated_at = now

    user = await session.get(User, auth_session.user_id)
    if user is None or not user.is_active:
        raise InvalidRefreshToken()
    auth_session.last_used_at = now
    auth_session.ip = client.ip
    metrics.REFRESHES.labels("success").inc()
    metrics.TOKENS_ISSUED.labels("refresh").inc()
    return await _issue_pair(session, runtime, auth_session)


async def _revoke_for_reuse(
    session: AsyncSession, runtime: AuthRuntime, auth_session: AuthSession, client: ClientInfo
) -> None:
    metrics.REFRESHES.labels("reused").inc()
    metrics.REFRESH_REUSE.inc()
    now = runtime.clock.now()
    session_id, user_id = auth_session.id, auth_session.user_id

    async def revoke(separate: AsyncSession) -> None:
        await separate.execute(
            update(AuthSession)
            .where(AuthSession.id == session_id)
            .values(revoked_at=now, revoked_reason="refresh_reuse")
        )

    # The request answers with an error and rolls back; the revocation must stay.
    even_if_rolled_back(session, revoke)
    audit.record_even_if_rolled_back(
        session,
        "session.refresh_reuse",
        at=now,
        client=client,
        user_id=user_id,
        details={"session_id": session_id},
    )
    await runtime.revocations.revoke(session_id)


async def revoke_sessions(
    session: AsyncSession,
    runtime: AuthRuntime,
    *,
    user_id: str,
    reason: str,
    only: str | None = None,
    keep: str | None = None,
) -> list[str]:
    """Revoke a user's open sessions (or just `only`, or all but `keep`); their access
    tokens stop working at once through the shared revocation list."""
    statement = select(AuthSession.id).where(
        AuthSession.user_id == user_id, AuthSession.revoked_at.is_(None)
    )
    if only is not None:
        statement = statement.where(AuthSession.id == only)
    if keep is not None:
        statement = statement.where(AuthSession.id != keep)
    ids = list(await session.scalars(statement))
    if ids:
        await session.execute(
            update(AuthSession)
            .where(AuthSession.id.in_(ids))
            .values(revoked_at=runtime.clock.now(), revoked_reason=reason)
        )
        await runtime.revocations.revoke(*ids)
    return ids


async def list_open_sessions(
    session: AsyncSession, runtime: AuthRuntime, user_id: str
) -> list[AuthSession]:
    now = runtime.clock.now()
    rows = await session.scalars(
        select(AuthSession)
        .where(AuthSession.user_id == user_id, AuthSession.revoked_at.is_(None))
        .order_by(AuthSession.last_used_at.desc())
    )
    return [row for row in rows if session_is_open(runtime, row, now)]


async def revoke_own_session(
    session: AsyncSession, runtime: AuthRuntime, *, user: User, session_id: str, client: ClientInfo
) -> None:
    if not await revoke_sessions(
        session, runtime, user_id=user.id, reason="user_revoked", only=session_id
    ):
        raise SessionNotFound()
    audit.record(
        session,
        "session.revoked",
        at=runtime.clock.now(),
        client=client,
        user_id=user.id,
        actor_id=user.id,
        details={"session_id": session_id},
    )


async def logout(
    session: AsyncSession,
    runtime: AuthRuntime,
    *,
    user: User,
    session_id: str,
    everywhere: bool,
    client: ClientInfo,
) -> None:
    if everywhere:
        ids = await revoke_sessions(session, runtime, user_id=user.id, reason="logout_all")
    else:
        ids = await revoke_sessions(
            session, runtime, user_id=user.id, reason="logout", only=session_id
        )
    audit.record(
        session,
        "logout.all" if everywhere else "logout",
        at=runtime.clock.now(),
        client=client,
        user_id=user.id,
        actor_id=user.id,
        details={"sessions": len(ids)},
    )


async def set_password(
    session: AsyncSession,
    runtime: AuthRuntime,
    user: User,
    new_password: str,
    *,
    keep_session: str | None,
    reason: str,
) -> None:
    """The one way a password changes: new hash, other sessions and reset tokens revoked,
    lockout lifted, the owner notified."""
    check_password(runtime, new_password, email=user.email, username=user.username)
    now = runtime.clock.now()
    user.password_hash = await runtime.hasher.hash(new_password)
    user.password_changed_at = now
    user.updated_at = now
    await revoke_sessions(session, runtime, user_id=user.id, reason=reason, keep=keep_session)
    await session.execute(
        update(OneTimeToken)
        .where(
            OneTimeToken.user_id == user.id,
            OneTimeToken.purpose == TokenPurpose.PASSWORD_RESET,
            OneTimeToken.used_at.is_(None),
        )
        .values(used_at=now)
    )
    await runtime.lockout.clear(user.username, user.email)
    send_after_commit(session, runtime, emails.password_changed(user, when=now))


async def change_password(
    session: AsyncSession,
    runtime: AuthRuntime,
    *,
    user: User,
    session_id: str,
    current_password: str | None,
    new_password: str,
    client: ClientInfo,
) -> None:
    if not current_password:
        raise CurrentPasswordRequired("Give your current password to set a new one.")
    if not await runtime.hasher.verify(user.password_hash, current_password):
        audit.record_even_if_rolled_back(
            session,
            "password.change_failed",
            at=runtime.clock.now(),
            client=client,
            user_id=user.id,
            actor_id=user.id,
        )
        raise WrongPassword("The current password is not correct.")
    await set_password(
        session, runtime, user, new_password, keep_session=session_id, reason="password_changed"
    )
    audit.record(
        session,
        "password.changed",
        at=runtime.clock.now(),
        client=client,
        user_id=user.id,
        actor_id=user.id,
    )


async def update_profile(
    session: AsyncSession, runtime: AuthRuntime, user: User, *, display_name: str | None
) -> User:
    if display_name is not None:
        user.display_name = display_name.strip()
        user.updated_at = runtime.clock.now()
    await session.flush()
    return user
