"""One JSONL line in any supported format → native-shaped items, detected per line.

A file may mix native events, LiteLLM payloads and OTLP/JSON export requests
(what an OpenTelemetry Collector's file exporter writes, one per line).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from prodlens.analytics.ingest import litellm, otlp_wire
from prodlens.analytics.ingest.events import Rejection
from prodlens.kit import json_limits
from prodlens.kit.errors import JsonTooDeep


def items_from_document(document: Any, *, nested: bool = False) -> list[Any]:
    if isinstance(document, list) and not nested:  # a dumped batch on one line
        return [item for element in document for item in items_from_document(element, nested=True)]
    if otlp_wire.is_otlp_json(document):
        return list(otlp_wire.items_from_json(document))
    if litellm.looks_like_litellm(document):
        return [litellm.to_event(document)]
    if isinstance(document, Mapping) and isinstance(document.get("events"), list) and not nested:
        return list(document["events"])
    return [document]  # native, or not an object: the native validation explains


def items_from_line(line: bytes, *, max_depth: int = json_limits.DEFAULT_MAX_DEPTH) -> list[Any]:
    try:
        document = json_limits.loads(line, max_depth=max_depth)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return [Rejection("not valid JSON")]
    except JsonTooDeep:
        return [Rejection(f"nested more than {max_depth} levels deep")]
    return items_from_document(document)
