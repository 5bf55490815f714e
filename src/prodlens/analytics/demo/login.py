"""The demo login, kept for the dashboard's sign-in page in the development profile.

`serve` prints the generated password once; a person who opens the dashboard
later still needs it, so in development it is also written to the data
directory (owner-only file) and shown on the sign-in page. Never in another
profile: there the file is neither written nor read.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from pydantic import BaseModel, ValidationError

from prodlens.config import Profile, Settings

LOGIN_FILE = "demo-login.json"


class DemoLogin(BaseModel):
    username: str
    password: str
    project_slug: str


def _path(settings: Settings) -> Path:
    return settings.data_dir / LOGIN_FILE


def save(settings: Settings, login: DemoLogin) -> None:
    if settings.env is not Profile.DEVELOPMENT:
        return
    path = _path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as file:
        file.write(login.model_dump_json())


def load(settings: Settings) -> DemoLogin | None:
    if settings.env is not Profile.DEVELOPMENT:
        return None
    try:
        return DemoLogin.model_validate(json.loads(_path(settings).read_text(encoding="utf-8")))
    except (OSError, ValueError, ValidationError):
        return None
