"""Outgoing email: SMTP (aiosmtplib) or, in development, files in `<data_dir>/outbox/`.

Sending never fails the caller: errors are logged and counted. Message bodies
are never logged (they carry one-time tokens); only recipient and subject.
"""

from __future__ import annotations

import email.message
import email.utils
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

import aiosmtplib
import anyio.to_thread
import structlog

from prodlens.config import EmailSettings
from prodlens.kit.ids import new_id
from prodlens.observability import metrics

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Email:
    to: str
    subject: str
    text: str
    html: str
    kind: str  # template name, for metrics and logs


class Transport(Protocol):
    async def deliver(self, message: email.message.EmailMessage) -> None: ...


class OutboxTransport:
    """Writes each message as an `.eml` file (development: read them there)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    async def deliver(self, message: email.message.EmailMessage) -> None:
        # Sortable by time; the id keeps two messages of the same microsecond apart.
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
        path = self.directory / f"{stamp}-{new_id()}.eml"
        await anyio.to_thread.run_sync(self._write, path, bytes(message))
        log.info("email_written", path=str(path))

    def _write(self, path: Path, content: bytes) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)


class SmtpTransport:
    def __init__(self, settings: EmailSettings) -> None:
        self.settings = settings

    async def deliver(self, message: email.message.EmailMessage) -> None:
        s = self.settings
        await aiosmtplib.send(
            message,
            hostname=s.smtp_host,
            port=s.smtp_port,
            username=s.smtp_username,
            password=s.smtp_password.get_secret_value() if s.smtp_password else None,
            start_tls=s.smtp_starttls and not s.smtp_tls,
            use_tls=s.smtp_tls,
            timeout=s.smtp_timeout,
        )


class Mailer:
    def __init__(self, transport: Transport, *, sender: str) -> None:
        self.transport = transport
        self.sender = sender

    def _message(self, mail: Email) -> email.message.EmailMessage:
        message = email.message.EmailMessage()
        message["From"] = self.sender
        message["To"] = mail.to
        message["Subject"] = mail.subject
        message["Date"] = email.utils.formatdate(usegmt=True)
        message["Message-ID"] = email.utils.make_msgid(domain="prodlens")
        message.set_content(mail.text)
        message.add_alternative(mail.html, subtype="html")
        return message

    async def send(self, mail: Email) -> None:
        """Deliver one message; failures are logged and counted, never raised."""
        try:
            await self.transport.deliver(self._message(mail))
        except Exception as exc:  # a mail server problem must not break the caller
            metrics.EMAILS.labels(mail.kind, "failed").inc()
            log.warning("email_failed", kind=mail.kind, error=type(exc).__name__)
            return
        metrics.EMAILS.labels(mail.kind, "sent").inc()
        log.info("email_sent", kind=mail.kind, subject=mail.subject)


def create_mailer(settings: EmailSettings, *, data_dir: Path) -> Mailer:
    transport: Transport
    if settings.uses_smtp:
        transport = SmtpTransport(settings)
    else:
        transport = OutboxTransport(data_dir / "outbox")
    return Mailer(transport, sender=settings.from_address)
