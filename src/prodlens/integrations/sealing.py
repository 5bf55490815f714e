"""Secrets we must be able to read back (a webhook secret is an HMAC key, so a hash of it
is useless), stored encrypted under a key derived from PRODLENS_SECRET_KEY.

A database dump alone does not reveal them. Changing PRODLENS_SECRET_KEY makes
them unreadable: they then have to be set again.
"""

from __future__ import annotations

import base64

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF


def _fernet(secret_key: str, purpose: str) -> Fernet:
    # A key per purpose, so this ciphertext key is never the key that signs tokens.
    derived = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=f"prodlens:{purpose}".encode()
    ).derive(secret_key.encode())
    return Fernet(base64.urlsafe_b64encode(derived))


def seal(value: str, *, secret_key: str, purpose: str) -> str:
    """Authenticated encryption (Fernet: AES-128-CBC + HMAC-SHA256)."""
    return _fernet(secret_key, purpose).encrypt(value.encode()).decode()


def unseal(token: str, *, secret_key: str, purpose: str) -> str | None:
    """The value, or None when it was sealed under another key (or tampered with)."""
    try:
        return _fernet(secret_key, purpose).decrypt(token.encode()).decode()
    except (InvalidToken, ValueError):
        return None
