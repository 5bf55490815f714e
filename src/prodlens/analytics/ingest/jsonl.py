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


def items_from_line(line: bytes) -> list[Any]:
    try:
        document = json.loads(line)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return [Rejection("not valid JSON")]
    return items_from_document(document)
