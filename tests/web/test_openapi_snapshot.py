"""The dashboard's API client is generated from a committed copy of the OpenAPI document.
A change to the API that is not regenerated (`make web`) fails here, with no Node.js
needed; CI then rebuilds the client and type-checks the dashboard against it."""

from __future__ import annotations

import json
from pathlib import Path

from prodlens.cli.openapi import openapi_document

COMMITTED = Path(__file__).parents[2] / "web" / "src" / "api" / "openapi.json"


def test_the_committed_openapi_document_is_the_servers() -> None:
    committed = json.loads(COMMITTED.read_text(encoding="utf-8"))
    current = json.loads(openapi_document())
    stale = sorted(set(current["paths"]) ^ set(committed["paths"]))
    assert not stale, f"paths added or removed since `make web`: {stale}"
    assert current == committed, "the API changed: run `make web` and commit the result"
