"""Reading an ingest request body: JSON (array, object, `{"events": [...]}`) or NDJSON,
parsed off the event loop when large."""

from __future__ import annotations

import json
from typing import Any

import anyio.to_thread
from fastapi import Request

from prodlens.analytics.ingest.service import InvalidBatch
from prodlens.kit.errors import MalformedJson

_PARSE_INLINE_BYTES = 64 * 1024


def _parse(body: bytes) -> Any:
    try:
        return json.loads(body)
    except json.JSONDecodeError:
        pass
    except UnicodeDecodeError:
        raise MalformedJson("The body is not UTF-8 JSON.") from None
    # Not one JSON document: try one document per line (NDJSON).
    items = []
    for number, line in enumerate(body.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            items.append(json.loads(line))
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise MalformedJson(f"Line {number} is not valid JSON.") from None
    if not items:
        raise MalformedJson("The body is empty.")
    return items


async def read_json(request: Request) -> Any:
    body = await request.body()
    if len(body) > _PARSE_INLINE_BYTES:
        return await anyio.to_thread.run_sync(_parse, body)
    return _parse(body)


def as_items(document: Any, *, key: str = "events") -> list[Any]:
    """A list of items from `[...]`, `{"events": [...]}` or a single object."""
    if isinstance(document, list):
        return document
    if isinstance(document, dict):
        inner = document.get(key)
        if isinstance(inner, list):
            return inner
        if inner is None:
            return [document]
    raise InvalidBatch(f"Send a JSON array, an object with {key!r}, or a single event.")
