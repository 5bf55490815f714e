"""The format of project API keys: `pl_<prefix>_<secret>`, shown once, stored hashed.

The prefix is stored in clear to find the key and to show it in lists; the
secret part carries 256 random bits.
"""

from __future__ import annotations

import secrets

KEY_MARKER = "pl_"


def new_key() -> tuple[str, str]:
    """A fresh key and its prefix."""
    prefix = secrets.token_hex(4)
    return f"{KEY_MARKER}{prefix}_{secrets.token_urlsafe(32)}", f"{KEY_MARKER}{prefix}"


def looks_like_key(value: str) -> bool:
    return value.startswith(KEY_MARKER)


def prefix_of(presented: str) -> str | None:
    """`pl_<8 hex>` of `pl_<8 hex>_<secret>`; the secret is URL-safe base64 and may
    itself contain "_", so only the first two underscores separate."""
    parts = presented.split("_", 2)
    if len(parts) != 3 or f"{parts[0]}_" != KEY_MARKER or not parts[1] or not parts[2]:
        return None
    return f"{parts[0]}_{parts[1]}"
