"""Structured logging: structlog for our code, the standard library routed through it.

Every line carries the request's correlation id (bound in contextvars by the
correlation middleware). JSON in staging/production, a readable console in
development. Values under secret-looking keys are masked before rendering.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog
from structlog.typing import EventDict, Processor

from prodlens.config import Settings

_SECRET_KEY = re.compile(
    r"pass(word)?|secret|token|authorization|cookie|api[_-]?key|hash|credential", re.IGNORECASE
)
REDACTED = "[redacted]"


def redact_secrets(_logger: Any, _method: str, event_dict: EventDict) -> EventDict:
    """Mask values whose key names a secret, at any depth of dicts."""

    def scrub(mapping: MutableMapping[str, Any]) -> None:
        for key, value in mapping.items():
            if _SECRET_KEY.search(key):
                mapping[key] = REDACTED
            elif isinstance(value, dict):
                scrub(value)

    scrub(event_dict)
    return event_dict


class _NamedWriteLogger(structlog.WriteLogger):
    """structlog's direct writer, with the name `add_logger_name` reports."""

    def __init__(self, name: str) -> None:
        super().__init__(sys.stderr)  # looked up per logger: tests swap stderr
        self.name = name


def _logger_factory(*args: Any) -> _NamedWriteLogger:
    return _NamedWriteLogger(str(args[0]) if args else "prodlens")


def configure_logging(settings: Settings) -> None:
    """Our loggers render straight to stderr (several times cheaper than going through
    the standard library); library loggers (uvicorn, alembic) pass through a formatter
    with the same processors, so every line has the same shape."""
    shared: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        redact_secrets,
    ]
    rendering: list[Processor]
    if settings.json_logs:
        rendering = [structlog.processors.format_exc_info, structlog.processors.JSONRenderer()]
    else:
        colors = sys.stderr.isatty()
        traceback = structlog.dev.RichTracebackFormatter(
            color_system="auto" if colors else None,
            show_locals=False,  # locals in a traceback could hold passwords or tokens
        )
        rendering = [structlog.dev.ConsoleRenderer(colors=colors, exception_formatter=traceback)]

    structlog.configure(
        processors=[*shared, *rendering],
        wrapper_class=structlog.make_filtering_bound_logger(settings.log_level),
        logger_factory=_logger_factory,
        # Not cached, so a new configuration (tests, reload) applies to existing loggers.
        cache_logger_on_first_use=False,
    )

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *rendering],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.log_level)
    # Our access middleware logs each request once; uvicorn's own access log would double it.
    logging.getLogger("uvicorn.access").handlers.clear()
    logging.getLogger("uvicorn.access").propagate = False
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers.clear()
        logging.getLogger(name).propagate = True
