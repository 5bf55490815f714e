"""The account emails, rendered from HTML + text templates."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

from prodlens.auth.models import User
from prodlens.kit.mailer import Email

_templates = Environment(
    loader=PackageLoader("prodlens.auth", "templates"),
    autoescape=select_autoescape(["html"]),
    keep_trailing_newline=True,
)


def _render(kind: str, subject: str, user: User, **values: Any) -> Email:
    values.update(user=user, subject=subject)
    return Email(
        to=user.email,
        subject=subject,
        text=_templates.get_template(f"{kind}.txt").render(values),
        html=_templates.get_template(f"{kind}.html").render(values),
        kind=kind,
    )


def verification(user: User, *, token: str, base_url: str, hours: int) -> Email:
    # The token travels in the fragment: never sent to a server, never in access logs.
    link = f"{base_url}/verify-email#token={token}"
    return _render(
        "verify_email", "Confirm your email address", user, token=token, link=link, hours=hours
    )


def password_reset(user: User, *, token: str, base_url: str, minutes: int) -> Email:
    link = f"{base_url}/reset-password#token={token}"
    return _render(
        "password_reset", "Reset your password", user, token=token, link=link, minutes=minutes
    )


def password_changed(user: User, *, when: datetime) -> Email:
    return _render(
        "password_changed",
        "Your password was changed",
        user,
        when=when.strftime("%Y-%m-%d %H:%M"),
    )


def already_registered(user: User, *, base_url: str) -> Email:
    return _render(
        "already_registered",
        "You already have a ProdLens account",
        user,
        link=f"{base_url}/reset-password",
    )
