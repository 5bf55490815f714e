"""`create_app(settings)`: wiring only. Each piece lives in its own module."""

from __future__ import annotations

import gc
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from functools import partial
from typing import Any

import structlog
from fastapi import FastAPI
from fastapi.responses import Response
from fastapi_offline import FastAPIOffline
from starlette.middleware.gzip import GZipMiddleware

from prodlens import __version__
from prodlens.analytics import live
from prodlens.analytics.assistants_router import router as assistants_router
from prodlens.analytics.copilot import import_report as import_copilot_report
from prodlens.analytics.demo.router import router as demo_router
from prodlens.analytics.explore_router import router as explore_router
from prodlens.analytics.identities_router import router as identities_router
from prodlens.analytics.ingest.formats_router import router as ingest_formats_router
from prodlens.analytics.ingest.router import router as ingest_router
from prodlens.analytics.metrics_router import router as metrics_router
from prodlens.audit.router import router as audit_router
from prodlens.auth.deps import is_admin_request
from prodlens.auth.router import router as auth_router
from prodlens.auth.runtime import build_auth_runtime
from prodlens.config import Profile, Settings
from prodlens.http.access import AccessMiddleware, InstrumentedRoute
from prodlens.http.body_limit import BodyLimitMiddleware
from prodlens.http.client_ip import parse_networks
from prodlens.http.correlation import CorrelationMiddleware
from prodlens.http.cors import ProblemCORSMiddleware
from prodlens.http.maintenance import MaintenanceMiddleware, MaintenanceSwitch
from prodlens.http.routing import AllowedMethodsMiddleware, install_relative_slash_redirects
from prodlens.http.security_headers import SecurityHeadersMiddleware
from prodlens.http.timeouts import BodyTimeoutMiddleware
from prodlens.integrations.copilot_fetch import CopilotScheduler
from prodlens.integrations.copilot_router import router as copilot_router
from prodlens.integrations.router import router as integrations_router
from prodlens.kit.availability import unavailable_response
from prodlens.kit.clock import Clock, SystemClock
from prodlens.kit.db import Database
from prodlens.kit.errors import UnhandledErrorMiddleware, install_error_handlers
from prodlens.kit.input_limits import InputLimitsMiddleware
from prodlens.kit.migrations import head_revisions
from prodlens.kit.state import state_store_from_settings
from prodlens.kit.tasks import TaskRunner
from prodlens.meta.router import API_PREFIX, DOCS_URL, OPENAPI_URL, REDOC_URL
from prodlens.meta.router import router as meta_router
from prodlens.observability import metrics
from prodlens.observability.health import router as health_router
from prodlens.observability.logging import configure_logging
from prodlens.openapi import CONTACT, DESCRIPTION, LICENSE, TAGS, install_openapi, operation_id
from prodlens.projects.api_keys_router import router as api_keys_router
from prodlens.projects.items_router import router as items_router
from prodlens.projects.router import router as projects_router
from prodlens.ratelimit.limiter import RateLimiter
from prodlens.ratelimit.middleware import RateLimitMiddleware
from prodlens.ratelimit.plans import PlanBook
from prodlens.ratelimit.router import router as usage_router
from prodlens.realtime.broker import create_broker
from prodlens.realtime.router import router as realtime_router
from prodlens.realtime.runtime import Realtime
from prodlens.realtime.service import Publisher
from prodlens.system.router import router as system_router
from prodlens.system.service import maintenance_flag
from prodlens.users.router import router as users_router
from prodlens.web.router import router as web_router

log = structlog.get_logger(__name__)

DOCS_STATIC_URL = "/static/docs"
# Probes and scrapes keep working during maintenance; admins sign in, then pass.
MAINTENANCE_EXEMPT = ("/health", "/metrics", "/api/v1/auth/login", "/api/v1/auth/refresh")


Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]


def _lifespan(settings: Settings) -> Lifespan:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.database = Database(settings)
        app.state.state_store = state_store_from_settings(settings)
        app.state.migration_heads = head_revisions()
        app.state.tasks = TaskRunner()
        broker = create_broker(
            settings.redis_url,
            key_prefix=settings.redis.key_prefix,
            socket_timeout=settings.redis.socket_timeout,
            retry_seconds=settings.redis.retry_seconds,
        )
        publisher = Publisher(
            broker,
            app.state.state_store,
            app.state.database.sessionmaker,
            kpi_snapshot=partial(live.kpi_snapshot, clock=app.state.clock),
            session_summaries=live.session_summaries,
            kpi_interval=settings.realtime.kpi_interval_seconds,
        )
        app.state.auth = build_auth_runtime(
            settings,
            clock=app.state.clock,
            store=app.state.state_store,
            tasks=app.state.tasks,
            sessionmaker=app.state.database.sessionmaker,
            on_revoke=publisher.sessions_revoked,
        )
        app.state.realtime = Realtime(
            settings,
            broker=broker,
            publisher=publisher,
            database=app.state.database,
            auth=app.state.auth,
        )
        await app.state.realtime.start()
        # In-process until the job system takes it over (docs/assistants.md).
        app.state.copilot = CopilotScheduler(
            settings.copilot,
            secret_key=settings.secret_key.get_secret_value(),
            sessionmaker=app.state.database.sessionmaker,
            state=app.state.state_store,
            clock=app.state.clock,
            store=import_copilot_report,
        )
        app.state.copilot.start()
        app.state.maintenance.load = partial(maintenance_flag, app.state.database.sessionmaker)
        app.state.rate_limiter = RateLimiter(settings)
        app.state.plans = PlanBook(app.state.database.sessionmaker)
        app.state.started_monotonic = time.monotonic()
        log.info(
            "startup",
            version=__version__,
            environment=settings.env.value,
            database=app.state.database.backend,
            state=app.state.state_store.backend,
            realtime=broker.backend,
        )
        try:
            yield
        finally:
            await app.state.copilot.stop()
            await app.state.realtime.stop()
            await app.state.tasks.drain(settings.server.graceful_shutdown_seconds)
            await app.state.state_store.close()
            await app.state.database.dispose()
            log.info("shutdown")

    return lifespan


def _new_app(settings: Settings) -> FastAPI:
    common: dict[str, Any] = {
        "title": "ProdLens API",
        "version": __version__,
        "description": DESCRIPTION,
        "openapi_tags": TAGS,
        "contact": CONTACT,
        "license_info": LICENSE,
        "generate_unique_id_function": operation_id,
        "lifespan": _lifespan(settings),
    }
    app: FastAPI
    if not settings.serve_docs:
        app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None, **common)
    else:
        # FastAPIOffline serves Swagger UI and ReDoc from packaged files: no CDN.
        app = FastAPIOffline(
            openapi_url=OPENAPI_URL,
            docs_url=DOCS_URL,
            redoc_url=REDOC_URL,
            static_url=DOCS_STATIC_URL,
            swagger_ui_oauth2_redirect_url=f"{DOCS_URL}/oauth2-redirect",
            **common,
        )
    install_relative_slash_redirects(app.router)
    return app


def _add_middleware(app: FastAPI, settings: Settings) -> None:
    # Added innermost first: the last one added sees the request first.
    app.add_middleware(AllowedMethodsMiddleware, router=app.router)
    app.add_middleware(UnhandledErrorMiddleware, translate=unavailable_response)
    app.add_middleware(InputLimitsMiddleware, max_json_depth=settings.http.max_json_depth)
    app.add_middleware(
        BodyLimitMiddleware,
        default_limit=settings.http.max_body_bytes,
        ingest_limit=settings.http.max_ingest_body_bytes,
    )
    app.add_middleware(
        MaintenanceMiddleware,
        switch=app.state.maintenance,
        exempt_prefixes=MAINTENANCE_EXEMPT,
        retry_after=settings.http.maintenance_retry_after,
        bypass=is_admin_request,
    )
    app.add_middleware(RateLimitMiddleware, prefix=API_PREFIX)
    app.add_middleware(GZipMiddleware, minimum_size=settings.http.gzip_minimum_size)
    if settings.http.cors_origins:
        app.add_middleware(
            ProblemCORSMiddleware,
            allow_origins=settings.http.cors_origins,
            allow_credentials=settings.http.cors_allow_credentials,
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
            allow_headers=[
                "Authorization",
                "Content-Type",
                "X-API-Key",
                "X-CSRF-Token",
                "X-Correlation-ID",
            ],
            expose_headers=[
                "X-Correlation-ID",
                "X-Process-Time",
                "Retry-After",
                "X-RateLimit-Limit",
                "X-RateLimit-Remaining",
                "X-RateLimit-Reset",
            ],
        )
    # Inside the header-adding layers, so its 408 carries them; outside all that reads a body.
    app.add_middleware(BodyTimeoutMiddleware, timeout_seconds=settings.http.body_timeout_seconds)
    app.add_middleware(
        SecurityHeadersMiddleware,
        docs_prefixes=(DOCS_URL, REDOC_URL, DOCS_STATIC_URL),
        hsts=settings.env is Profile.PRODUCTION,
    )
    app.add_middleware(AccessMiddleware, slow_request_seconds=settings.http.slow_request_seconds)
    app.add_middleware(CorrelationMiddleware)


def create_app(settings: Settings, *, clock: Clock | None = None) -> FastAPI:
    configure_logging(settings)
    app = _new_app(settings)
    app.router.route_class = InstrumentedRoute
    app.state.settings = settings
    app.state.clock = clock or SystemClock()
    app.state.trusted_proxies = parse_networks(settings.http.trusted_proxies)
    # The lifespan gives it the database to read the stored flag from.
    app.state.maintenance = MaintenanceSwitch(forced=settings.maintenance_mode)

    install_error_handlers(app)
    _add_middleware(app, settings)
    app.include_router(health_router)
    app.include_router(meta_router)
    app.include_router(auth_router)
    app.include_router(users_router)
    app.include_router(audit_router)
    app.include_router(system_router)
    app.include_router(usage_router)
    app.include_router(projects_router)
    app.include_router(items_router)
    app.include_router(api_keys_router)
    app.include_router(ingest_router)
    app.include_router(explore_router)
    app.include_router(identities_router)
    app.include_router(metrics_router)
    app.include_router(assistants_router)
    app.include_router(integrations_router)
    app.include_router(copilot_router)
    app.include_router(ingest_formats_router)
    app.include_router(realtime_router)
    app.include_router(demo_router)

    @app.get(
        "/metrics",
        tags=["observability"],
        summary="Prometheus exposition",
        response_class=Response,
        responses={200: {"content": {"text/plain": {}}}},
    )
    async def prometheus_metrics() -> Response:
        body, content_type = metrics.render_latest()
        return Response(body, media_type=content_type)

    # Last: the dashboard's pages never shadow an API route.
    app.include_router(web_router)

    servers = [{"url": settings.public_url or "/", "description": "This server"}]
    install_openapi(app, servers=servers)
    return app


def serve_app() -> FastAPI:
    """Factory for uvicorn workers: settings from the environment and `.env`."""
    app = create_app(Settings())
    tune_garbage_collector()
    return app


# Young-generation size and how many younger passes precede an older one (CPython's
# defaults: 700, 10, 10).
GC_THRESHOLDS = (10_000, 10, 100)


def tune_garbage_collector() -> None:
    """Keep the cyclic collector's full passes rare and short in a served worker.

    A full pass stops the event loop while it scans every tracked object; with a
    thousand sockets open that took 200-450 ms, which every client of a live update then
    waits (bench/bench_realtime.py). What is loaded by now (modules, the app, its routes
    and schemas) lives as long as the worker, so it is frozen out of all passes; and a
    larger young generation promotes fewer short-lived objects (queued messages caught
    in flight), so the older generations fill, and need a full pass, far less often.
    No collection first: it would cost start-up a full pass (0.1 s) to free the little
    that importing left behind.
    """
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
