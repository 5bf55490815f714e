"""Reading a JSON ingest request body: one JSON document or NDJSON (one per line),
parsed off the event loop when large, never deeper than `max_depth`."""

from __future__ import annotations

import json
from typing import Any

import anyio.to_thread
from fastapi import Request

from prodlens.kit import json_limits
from prodlens.kit.errors import MalformedJson

_PARSE_INLINE_BYTES = 64 * 1024


def _parse(body: bytes, max_depth: int) -> Any:
    try:
        return json_limits.loads(body, max_depth=max_depth)
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
            items.append(json_limits.loads(line, max_depth=max_depth))
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise MalformedJson(f"Line {number} is not valid JSON.") from None
    if not items:
        raise MalformedJson("The body is empty.")
    return items


async def read_json(request: Request, *, max_depth: int) -> Any:
    body = await request.body()
    if len(body) > _PARSE_INLINE_BYTES:
        return await anyio.to_thread.run_sync(_parse, body, max_depth)
    return _parse(body, max_depth)
