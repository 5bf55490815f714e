"""`prodlens openapi`: the OpenAPI document, for client generators and the dashboard build."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer


def openapi_document() -> str:
    """The document as the server serves it, in a stable form (sorted keys, newline at end)."""
    from prodlens.app import create_app
    from prodlens.config import Settings

    # Defaults, not the caller's environment: the document must not depend on local settings.
    app = create_app(Settings(_env_file=None))
    return json.dumps(app.openapi(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def openapi(
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write to this file, not stdout.")
    ] = None,
) -> None:
    """Print the OpenAPI document (JSON) the server serves at /api/v1/openapi.json."""
    document = openapi_document()
    if output is None:
        typer.echo(document, nl=False)
    else:
        output.write_text(document, encoding="utf-8")
