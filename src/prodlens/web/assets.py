"""Where the built dashboard lies and how its files are answered.

``dist/`` is the output of ``make web`` (Vite), committed so that serving needs no
Node.js. Hashed asset names change with their content, so they are cached for a
year; ``index.html`` names the current hashes, so it is never cached.
"""

from __future__ import annotations

import re
from pathlib import Path

DIST = Path(__file__).parent / "dist"
ASSETS = DIST / "assets"
INDEX = DIST / "index.html"

IMMUTABLE = "public, max-age=31536000, immutable"
NO_CACHE = "no-cache"
# Vite's output names: <name>-<hash>.<ext>, nothing else is served from assets/.
ASSET_NAME = re.compile(r"^[A-Za-z0-9_.-]+-[A-Za-z0-9_-]{8}\.(?:js|css|svg|png|woff2)$")
# Files at the root of dist/ that are not index.html (copied from web/public/).
ROOT_FILES = {"favicon.svg": "image/svg+xml"}


def index_html() -> bytes | None:
    """The page shell; None when the dashboard was never built. Read per request (it is
    small) so that `make web` takes effect without a restart."""
    try:
        return INDEX.read_bytes()
    except FileNotFoundError:
        return None


def asset_path(name: str) -> Path | None:
    """The file of a hashed asset name, or None (unknown names and paths are refused)."""
    if not ASSET_NAME.match(name):
        return None
    path = ASSETS / name
    return path if path.is_file() else None
