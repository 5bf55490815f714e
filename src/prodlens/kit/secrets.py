"""Opaque secrets (refresh, reset and verification tokens, API keys, webhook secrets)."""

from __future__ import annotations

import hashlib
import secrets


def new_secret() -> str:
    """256 random bits, URL-safe (43 characters)."""
    return secrets.token_urlsafe(32)


def hash_secret(secret: str) -> str:
    """Stored form of an opaque secret: high entropy, so a plain SHA-256 suffices."""
    return hashlib.sha256(secret.encode()).hexdigest()
