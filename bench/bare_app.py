"""Baseline for bench_http.py: a bare Starlette app returning a small JSON.

No middleware, no FastAPI, no validation: what any ASGI app on uvicorn costs.
Served by bench_http.py as `uvicorn bare_app:app --app-dir bench`.
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route


async def health(_request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


app = Starlette(routes=[Route("/health", health)])
