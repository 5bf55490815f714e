"""Small, forgiving readers for fields of foreign payloads (LiteLLM, OpenTelemetry).

Adapters read other tools' JSON, where a number may arrive as a string and an
optional field as `null`. These helpers turn such values into what the native
shape expects, or raise `FieldError` with a message that names the field, so an
adapter can reject one item with a clear reason instead of failing the batch.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

MAX_TAGS = 20
MAX_TAG_LENGTH = 64


class FieldError(ValueError):
    pass


def text(value: Any, limit: int) -> str | None:
    """A non-empty string cut to `limit` characters (identifiers and names only:
    cutting keeps an over-long but harmless label from rejecting the whole event)."""
    if isinstance(value, str) and value.strip():
        return value.strip()[:limit]
    return None


def first_text(limit: int, *values: Any) -> str | None:
    for value in values:
        found = text(value, limit)
        if found is not None:
            return found
    return None


def mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def number(value: Any, name: str) -> float | None:
    """A finite number, from a JSON number or a numeric string; None when absent."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise FieldError(f"{name}: not a number")
    try:
        result = float(value)
    except (TypeError, ValueError, OverflowError):
        raise FieldError(f"{name}: not a number") from None
    if not math.isfinite(result):
        raise FieldError(f"{name}: not a finite number")
    return result


def count(value: Any, name: str) -> int | None:
    """A non-negative whole number of tokens; None when absent."""
    result = number(value, name)
    if result is None:
        return None
    if result < 0 or result != int(result):
        raise FieldError(f"{name}: not a token count")
    return int(result)


def first_count(values: Mapping[str, Any], *names: str) -> int | None:
    for name in names:
        found = count(values.get(name), name)
        if found is not None:
            return found
    return None


def flag(value: Any) -> bool | None:
    """A boolean, also from the strings "true"/"false" (metadata often carries strings)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in {"true", "false"}:
        return value.strip().lower() == "true"
    return None


def from_epoch(seconds: float, name: str) -> datetime:
    try:
        return datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError):
        raise FieldError(f"{name}: not a valid time") from None


def tags(*sources: Any) -> list[str]:
    """Distinct string tags, in order, at most 20; over-long ones are dropped
    rather than rejecting the event they came with."""
    found: list[str] = []
    for source in sources:
        items: Iterable[Any] = source if isinstance(source, list | tuple) else ()
        for item in items:
            if (
                isinstance(item, str)
                and item.strip()
                and len(item.strip()) <= MAX_TAG_LENGTH
                and item.strip() not in found
            ):
                found.append(item.strip())
    return found[:MAX_TAGS]
