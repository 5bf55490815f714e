"""`prodlens serve`: migrations on SQLite, the demo on a first development run, uvicorn."""

from __future__ import annotations

import os
import signal
import sys
from typing import Annotated

import typer

from prodlens import __version__
from prodlens.cli.common import (
    apply_migrations,
    console,
    errors,
    load_settings,
    require_writable_storage,
    run,
)


def serve(
    host: Annotated[
        str | None, typer.Option(help="Interface to bind [PRODLENS_SERVER__HOST].")
    ] = None,
    port: Annotated[int | None, typer.Option(help="Port [PRODLENS_SERVER__PORT].")] = None,
    workers: Annotated[int | None, typer.Option(min=1, help="Worker processes.")] = None,
    reload: Annotated[bool, typer.Option(help="Restart on code changes (development).")] = False,
    migrate: Annotated[
        bool | None,
        typer.Option(help="Apply migrations first (default: yes for SQLite, no otherwise)."),
    ] = None,
) -> None:
    """Serve the API (and apply migrations to the embedded SQLite database)."""
    import uvicorn

    from prodlens.analytics.demo import store as demo
    from prodlens.http.protocol import protocol_factory
    from prodlens.observability import metrics
    from prodlens.observability.logging import configure_logging

    settings = load_settings()
    configure_logging(settings)
    host = host or settings.server.host
    port = port or settings.server.port
    workers = workers or settings.server.workers
    require_writable_storage(settings)
    if migrate if migrate is not None else settings.is_sqlite:
        apply_migrations(settings)
    # SPEC §1: a first run in development gets something to look at (never in production).
    created = (
        run(demo.create_if_empty(settings)) if demo.wanted_on_empty_database(settings) else None
    )
    if workers > 1 and not settings.redis_url:
        errors.print(
            "[yellow]Warning:[/] several workers without REDIS_URL each keep their own rate "
            "limits, lockouts and revocations; set REDIS_URL to share them."
        )
    if workers > 1 and not reload:
        # Must be set before any worker imports prometheus_client.
        directory = settings.data_dir.resolve() / "prometheus"
        metrics.prepare_multiprocess_dir(directory)
        os.environ[metrics.MULTIPROC_ENV] = str(directory)

    # uvicorn shuts down gracefully on SIGTERM, then re-raises the signal with the previous
    # handler restored; this one turns that into a clean exit status 0.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))

    base = f"http://{host}:{port}"
    console.print(f"[bold]ProdLens {__version__}[/] ({settings.env.value}) on {base}")
    console.print(f"  Dashboard {base}/")
    console.print(f"  API       {base}/api/v1")
    if settings.serve_docs:
        console.print(f"  Docs      {base}/docs")
    console.print(f"  Health    {base}/health/ready")
    console.print(f"  Metrics   {base}/metrics")
    if created is not None:
        console.print(
            f"  Demo login: {created.username} / {created.password}  "
            f"(project {demo.DEMO_NAME!r}; also on the sign-in page at {base}/)"
        )
    uvicorn.run(
        "prodlens.app:serve_app",
        factory=True,
        host=host,
        port=port,
        workers=None if reload else workers,
        reload=reload,
        log_config=None,  # our logging, configured by the app factory
        access_log=False,  # one access line per request comes from our middleware
        proxy_headers=False,  # client IPs are resolved by our trusted-proxy rules
        server_header=False,
        # uvloop (libuv) accepts one connection per loop iteration, so on a busy worker a
        # burst of new connections waits in the accept queue (p99 1.7 s against 0.44 s on
        # asyncio's loop at 200; bench/bench_connections.py); uvloop costs ~8 % less CPU.
        loop=settings.server.event_loop,
        http=protocol_factory(settings.http.header_timeout_seconds),
        timeout_graceful_shutdown=settings.server.graceful_shutdown_seconds,
        # With several workers the supervisor pings each one this long before it kills
        # it: a worker still starting on a loaded machine (interpreter, imports) must
        # not be killed at 5 s. It also bounds how long a frozen worker goes unnoticed.
        timeout_worker_healthcheck=settings.server.startup_timeout_seconds,
        # Frames far over the feed's message limit are refused by the protocol layer
        # (close 1009) before they are buffered; the app closes smaller excesses with 4413.
        ws_max_size=settings.realtime.max_message_bytes * 4,
        ws_per_message_deflate=settings.realtime.compression,
    )
