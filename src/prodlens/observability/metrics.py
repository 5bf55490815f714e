"""Prometheus metrics and the `/metrics` exposition.

With several worker processes, prometheus-client's multiprocess mode is used:
`prodlens serve --workers N` sets `PROMETHEUS_MULTIPROC_DIR` before any worker
starts, each worker writes its samples to files there, and `/metrics` (served
by any worker) aggregates all of them.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_SIZE_BUCKETS = (100, 1_000, 10_000, 100_000, 1_000_000, 10_000_000)

HTTP_REQUESTS = Counter(
    "prodlens_http_requests",
    "HTTP requests answered, by route template, method and status class.",
    ["method", "route", "status"],
)
HTTP_DURATION = Histogram(
    "prodlens_http_request_duration_seconds",
    "Time from request start to the end of the response body.",
    ["method", "route"],
    buckets=_LATENCY_BUCKETS,
)
HTTP_REQUEST_SIZE = Histogram(
    "prodlens_http_request_size_bytes",
    "Request body size as declared by Content-Length.",
    ["method", "route"],
    buckets=_SIZE_BUCKETS,
)
HTTP_RESPONSE_SIZE = Histogram(
    "prodlens_http_response_size_bytes",
    "Response body size as sent.",
    ["method", "route"],
    buckets=_SIZE_BUCKETS,
)
HTTP_IN_PROGRESS = Gauge(
    "prodlens_http_requests_in_progress",
    "Requests being handled right now.",
    ["method", "route"],
    multiprocess_mode="livesum",
)
DB_QUERIES = Counter("prodlens_db_queries", "SQL statements executed.")
DB_QUERY_DURATION = Histogram(
    "prodlens_db_query_duration_seconds",
    "SQL statement execution time.",
    buckets=_LATENCY_BUCKETS,
)
DB_ERRORS = Counter("prodlens_db_errors", "SQL statements or connections that failed.")
DB_POOL_SIZE = Gauge(
    "prodlens_db_pool_size",
    "Configured connection pool size (summed over workers).",
    multiprocess_mode="livesum",
)
DB_POOL_CHECKED_OUT = Gauge(
    "prodlens_db_pool_checked_out",
    "Database connections in use right now (summed over workers).",
    multiprocess_mode="livesum",
)
DB_OUTAGE = Gauge(
    "prodlens_db_outage",
    "1 while a worker finds the database unavailable (between its warning and recovery).",
    multiprocess_mode="max",
)
DB_UNAVAILABLE = Counter(
    "prodlens_db_unavailable_responses",
    "Requests answered 503 because the database could not serve them, by reason.",
    ["reason"],
)


EMAILS = Counter("prodlens_emails", "Emails handed to the transport.", ["kind", "outcome"])
LOGINS = Counter("prodlens_auth_logins", "Login attempts by outcome.", ["outcome"])
TOKENS_ISSUED = Counter("prodlens_auth_tokens_issued", "Access/refresh pairs issued.", ["grant"])
REFRESHES = Counter("prodlens_auth_refreshes", "Refresh attempts by outcome.", ["outcome"])
REFRESH_REUSE = Counter(
    "prodlens_auth_refresh_reuse_detections",
    "Rotated refresh tokens presented again (session family revoked).",
)
LOCKOUTS = Counter("prodlens_auth_lockouts", "Identifiers locked after repeated failures.")
PASSWORD_RESETS = Counter("prodlens_auth_password_resets", "Password reset steps.", ["stage"])


STATE_BACKEND_ERRORS = Counter(
    "prodlens_state_backend_errors", "Failed calls to the shared state backend.", ["backend"]
)
STATE_FALLBACK_ACTIVE = Gauge(
    "prodlens_state_fallback_active",
    "1 while a worker uses local memory because the shared backend is unreachable.",
    ["backend"],
    multiprocess_mode="max",
)
RATE_LIMITED = Counter(
    "prodlens_rate_limit_rejections", "Requests refused with 429, by policy.", ["policy"]
)


INGEST_EVENTS = Counter(
    "prodlens_ingest_events",
    "Events received, by source format and outcome.",
    ["source", "outcome"],
)
INGEST_BATCH_DURATION = Histogram(
    "prodlens_ingest_batch_duration_seconds",
    "Time to validate and store one batch (rollups included).",
    ["source"],
    buckets=_LATENCY_BUCKETS,
)
INGEST_DELAY = Histogram(
    "prodlens_ingest_delay_seconds",
    "From the end of a model call to its event being stored and rolled up. Rollups are "
    "written in the same transaction as the events, so this is also the rollup lag.",
    buckets=(1, 5, 30, 60, 300, 900, 3600, 21600, 86400, 604800),
)


WS_CONNECTIONS = Gauge(
    "prodlens_ws_connections",
    "WebSocket connections open right now (summed over workers).",
    multiprocess_mode="livesum",
)
WS_MESSAGES_SENT = Counter(
    "prodlens_ws_messages_sent", "Messages sent to WebSocket clients, by type.", ["type"]
)
WS_CLOSED = Counter(
    "prodlens_ws_closed", "WebSocket connections closed by the server, by reason.", ["reason"]
)
WS_PUBLISH_LATENCY = Histogram(
    "prodlens_ws_publish_to_send_seconds",
    "From a message's publication to its hand-over to one client's socket.",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)


def prepare_multiprocess_dir(directory: Path) -> None:
    """Start a multi-worker server with an empty metrics folder (stale files would be summed)."""
    if directory.exists():
        shutil.rmtree(directory)
    directory.mkdir(parents=True)


def render_latest() -> tuple[bytes, str]:
    """The exposition of this process, or of all worker processes in multiprocess mode."""
    if os.environ.get(MULTIPROC_ENV):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(), CONTENT_TYPE_LATEST
