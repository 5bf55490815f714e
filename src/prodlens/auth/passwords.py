"""Password hashing (argon2id, off the event loop) and the password policy.

Passwords are NFKC-normalised before hashing, so the same password typed on
different keyboards verifies; they are never truncated or case-folded.
"""

from __future__ import annotations

import os
import secrets
import string
import unicodedata
from functools import cache

import anyio
import anyio.to_thread
from argon2 import PasswordHasher as Argon2Hasher
from argon2 import Type
from argon2.exceptions import InvalidHashError, VerificationError
from zxcvbn.frequency_lists import FREQUENCY_LISTS

from prodlens.auth.errors import WeakPassword
from prodlens.config import AuthSettings

MIN_LENGTH = 8
MAX_LENGTH = 128
_CONTEXT_MIN_LENGTH = 3
_EDGE_NOISE = string.digits + string.punctuation + " "


def normalize(password: str) -> str:
    return unicodedata.normalize("NFKC", password)


class PasswordHasher:
    """argon2id with the configured (default: OWASP) parameters."""

    def __init__(self, settings: AuthSettings) -> None:
        self._hasher = Argon2Hasher(
            time_cost=settings.argon2_time_cost,
            memory_cost=settings.argon2_memory_kib,
            parallelism=settings.argon2_parallelism,
            type=Type.ID,
        )
        # Verified against when an account does not exist, so that login costs the same.
        self._dummy_hash = self._hasher.hash(secrets.token_urlsafe(16))
        # One hash per core at a time: more only contend for the same caches (and each
        # holds 19 MiB), making every login slower; the rest wait without blocking.
        self._limiter = anyio.CapacityLimiter(os.cpu_count() or 1)

    async def hash(self, password: str) -> str:
        return await anyio.to_thread.run_sync(
            self._hasher.hash, normalize(password), limiter=self._limiter
        )

    async def verify(self, password_hash: str | None, password: str) -> bool:
        """Check a password; with no hash (unknown account) burn the same time and fail."""
        target = password_hash or self._dummy_hash
        ok = await anyio.to_thread.run_sync(
            self._verify, target, normalize(password), limiter=self._limiter
        )
        return ok and password_hash is not None

    def _verify(self, password_hash: str, password: str) -> bool:
        try:
            return self._hasher.verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, password_hash: str) -> bool:
        return self._hasher.check_needs_rehash(password_hash)


@cache
def common_passwords() -> frozenset[str]:
    """30,000 most common passwords from leaked data sets, as shipped by zxcvbn."""
    return frozenset(FREQUENCY_LISTS["passwords"])


def _variants(password: str) -> set[str]:
    """The forms in which a common password hides: case, edge digits/symbols, spaces."""
    lowered = password.casefold()
    return {lowered, lowered.strip(_EDGE_NOISE), lowered.replace(" ", "")}


def check_policy(password: str, *, context: list[str], policy: str) -> None:
    """Raise `WeakPassword` with the reason when the password is not acceptable."""
    length = len(password)
    if not MIN_LENGTH <= length <= MAX_LENGTH:
        raise WeakPassword(f"Use between {MIN_LENGTH} and {MAX_LENGTH} characters.")
    if _variants(password) & common_passwords():
        raise WeakPassword("This password is too common; choose a less predictable one.")
    lowered = password.casefold()
    for word in context:
        word = word.casefold()
        if len(word) >= _CONTEXT_MIN_LENGTH and word in lowered:
            raise WeakPassword("The password must not contain your username or email address.")
    if policy == "classic":
        classes = [
            any(c.islower() for c in password),
            any(c.isupper() for c in password),
            any(c.isdigit() for c in password),
            any(not c.isalnum() for c in password),
        ]
        if not all(classes):
            raise WeakPassword("Use upper- and lower-case letters, a digit and a symbol.")


def context_words(*, email: str, username: str) -> list[str]:
    local_part = email.split("@", 1)[0]
    return [local_part, username]
