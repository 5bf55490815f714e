"""Claude Code over OTLP/HTTP, sent by the real OpenTelemetry SDK exporters: its metrics
(cumulative and delta) and log events land as the right developers, tokens, cost,
lines, edit decisions and model calls; the prompt text never lands anywhere."""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import uvicorn
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
from opentelemetry.sdk.metrics import Counter, Histogram, MeterProvider, UpDownCounter
from opentelemetry.sdk.metrics.export import AggregationTemporality, PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from sqlalchemy import inspect as sql_inspect

from prodlens.analytics.ingest import claude_code
from tests.analytics.helpers import AnalyticsProject, analytics_project
from tests.e2e.server import free_port
from tests.harness import Harness

MODEL = "claude-sonnet-4-5"
SECRET_PROMPT = "TOP-SECRET-PROMPT refactor the billing module"
SECRET_RESPONSE = "TOP-SECRET-RESPONSE here is the refactor"
EXPORT_TIMEOUT_MS = 60_000


@pytest.fixture
async def project(harness: Harness) -> AnalyticsProject:
    return await analytics_project(harness)


@asynccontextmanager
async def served(harness: Harness) -> AsyncIterator[str]:
    """The harness's app (its lifespan already running) on a real port, in this loop;
    yields the base URL. The SDK exporters are synchronous: call them in a thread."""
    port = free_port()
    config = uvicorn.Config(
        harness.app, host="127.0.0.1", port=port, log_level="warning", lifespan="off"
    )
    server = uvicorn.Server(config)
    server.capture_signals = contextlib.nullcontext  # type: ignore[method-assign,assignment]
    task = asyncio.create_task(server.serve())
    async with asyncio.timeout(60):
        while not server.started:
            if task.done():
                task.result()
            await asyncio.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 60)


def claude_code_env(monkeypatch: pytest.MonkeyPatch, base_url: str, key: str) -> None:
    """The environment docs/assistants.md gives developers' machines (the SDK reads the
    OTLP ones; Claude Code's own switches are set for the record)."""
    for name, value in {
        "CLAUDE_CODE_ENABLE_TELEMETRY": "1",
        "OTEL_METRICS_EXPORTER": "otlp",
        "OTEL_LOGS_EXPORTER": "otlp",
        "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
        "OTEL_EXPORTER_OTLP_ENDPOINT": f"{base_url}/api/v1/ingest/otlp",
        "OTEL_EXPORTER_OTLP_HEADERS": f"X-API-Key={key}",
        "OTEL_LOG_USER_PROMPTS": "1",  # content capture on: the prompt is sent
        "OTEL_LOG_ASSISTANT_RESPONSES": "1",
    }.items():
        monkeypatch.setenv(name, value)


@dataclass(frozen=True)
class Developer:
    """Claude Code's standard attributes for one person (on every point and record)."""

    name: str
    attributes: dict[str, str]


ADA = Developer(
    "ada",
    {
        "user.email": "ada@example.com",
        "user.account_uuid": "acc-ada-0001",
        "user.account_id": "user_01ada",
        "organization.id": "org-7",
        "user.id": "inst-ada-9f2c",
        "terminal.type": "vscode",
        "session.id": "sess-ada-1",
    },
)
GRACE = Developer(
    "grace",
    {
        "user.email": "grace@example.com",
        "user.account_uuid": "acc-grace-0002",
        "organization.id": "org-7",
        "user.id": "inst-grace-71aa",
        "terminal.type": "iTerm.app",
        "session.id": "sess-grace-1",
    },
)
# An API-key user: no Claude account, only the installation id.
LINUS = Developer("linus", {"user.id": "inst-linus-03be", "session.id": "sess-linus-1"})


def resource() -> Resource:
    return Resource.create({"service.name": "claude-code", "service.version": "2.1.200"})


class ClaudeCodeMeters:
    """One Claude Code process: its meter provider and the counters it documents."""

    def __init__(self, developer: Developer, temporality: AggregationTemporality) -> None:
        self.developer = developer
        kinds: tuple[type, ...] = (Counter, UpDownCounter, Histogram)
        preferred = dict.fromkeys(kinds, temporality)
        self.reader = PeriodicExportingMetricReader(
            OTLPMetricExporter(preferred_temporality=preferred),  # endpoint from the env
            export_interval_millis=math.inf,  # exported when the test flushes
            export_timeout_millis=EXPORT_TIMEOUT_MS,
        )
        self.provider = MeterProvider(resource=resource(), metric_readers=[self.reader])
        meter = self.provider.get_meter("com.anthropic.claude_code")
        self.sessions = meter.create_counter("claude_code.session.count", unit="count")
        self.tokens = meter.create_counter("claude_code.token.usage", unit="tokens")
        self.cost = meter.create_counter("claude_code.cost.usage", unit="USD")
        self.lines = meter.create_counter("claude_code.lines_of_code.count", unit="count")
        self.commits = meter.create_counter("claude_code.commit.count", unit="count")
        self.prs = meter.create_counter("claude_code.pull_request.count", unit="count")
        self.decisions = meter.create_counter("claude_code.code_edit_tool.decision", unit="count")
        self.active = meter.create_counter("claude_code.active_time.total", unit="s")

    def attrs(self, **extra: Any) -> dict[str, Any]:
        return {**self.developer.attributes, **extra}

    def use(
        self,
        *,
        tokens: dict[str, int],
        cost: float,
        added: int = 0,
        removed: int = 0,
        accepted: int = 0,
        rejected: int = 0,
        commits: int = 0,
        prs: int = 0,
        new_session: bool = False,
    ) -> None:
        if new_session:
            self.sessions.add(1, self.attrs(start_type="fresh"))
        for kind, amount in tokens.items():
            self.tokens.add(amount, self.attrs(type=kind, model=MODEL, query_source="main"))
        self.cost.add(cost, self.attrs(model=MODEL, query_source="main"))
        if added:
            self.lines.add(added, self.attrs(type="added", model=MODEL))
        if removed:
            self.lines.add(removed, self.attrs(type="removed", model=MODEL))
        for decision, times in (("accept", accepted), ("reject", rejected)):
            for _ in range(times):
                self.decisions.add(
                    1,
                    self.attrs(
                        tool_name="Edit", decision=decision, source="user_temporary",
                        language="Python",
                    ),
                )  # fmt: skip
        if commits:
            self.commits.add(commits, self.attrs())
        if prs:
            self.prs.add(prs, self.attrs())
        self.active.add(30.5, self.attrs(type="cli"))

    def flush(self) -> None:
        assert self.reader.force_flush(EXPORT_TIMEOUT_MS)


async def flush(*processes: ClaudeCodeMeters) -> None:
    for process in processes:
        await asyncio.to_thread(process.flush)


async def facts(harness: Harness, metric: str, **dimensions: str) -> dict[str, float]:
    """Developer → the summed value of a Claude Code fact whose dimensions include these."""
    rows = await harness.sql(
        "SELECT developer_id, dimensions, value FROM assistant_daily "
        "WHERE source = 'claude_code' AND metric = :metric",
        metric=metric,
    )
    wanted = [f"{key}={value}" for key, value in dimensions.items()]
    totals: dict[str, float] = {}
    for developer, dims, value in rows:
        if all(part in dims.split(";") for part in wanted):
            totals[developer] = totals.get(developer, 0.0) + value
    return totals


async def all_text(harness: Harness) -> str:
    """Every row of every table, as text."""

    def names(connection: Any) -> list[str]:
        return list(sql_inspect(connection).get_table_names())

    async with harness.app.state.database.engine.connect() as connection:
        tables = await connection.run_sync(names)
    assert {"assistant_daily", "events", "otlp_cumulative_points"} <= set(tables)
    dumps = [str(await harness.sql(f'SELECT * FROM "{table}"')) for table in tables]  # noqa: S608
    return "\n".join(dumps)


@pytest.mark.parametrize(
    "temporality", [AggregationTemporality.CUMULATIVE, AggregationTemporality.DELTA]
)
async def test_metrics_from_the_sdk_exporter_count_once_per_developer(
    harness: Harness,
    project: AnalyticsProject,
    monkeypatch: pytest.MonkeyPatch,
    temporality: AggregationTemporality,
) -> None:
    async with served(harness) as base_url:
        claude_code_env(monkeypatch, base_url, project.ingest_key)
        ada, grace, linus = (ClaudeCodeMeters(d, temporality) for d in (ADA, GRACE, LINUS))
        ada.use(
            tokens={"input": 1000, "output": 200, "cacheRead": 5000, "cacheCreation": 300},
            cost=0.05, added=40, removed=5, accepted=3, rejected=1, commits=1, prs=1,
            new_session=True,
        )  # fmt: skip
        grace.use(
            tokens={"input": 500, "output": 100}, cost=0.02, added=10, accepted=1, rejected=1,
            new_session=True,
        )  # fmt: skip
        linus.use(tokens={"input": 50}, cost=0.001, new_session=True)
        await flush(ada, grace, linus)
        await flush(ada, grace, linus)  # nothing new: a cumulative export repeats its totals
        ada.use(tokens={"input": 500}, cost=0.01, added=10, accepted=1)
        await flush(ada, grace, linus)
        for process in (ada, grace, linus):
            await asyncio.to_thread(process.provider.shutdown)

    ada_id, grace_id, linus_id = "ada@example.com", "grace@example.com", "inst-linus-03be"
    assert await facts(harness, "tokens", type="input") == {
        ada_id: 1500,
        grace_id: 500,
        linus_id: 50,
    }
    assert await facts(harness, "tokens", type="cache_read", model=MODEL) == {ada_id: 5000}
    assert await facts(harness, "tokens", type="cache_creation") == {ada_id: 300}
    cost = await facts(harness, "cost_usd", model=MODEL)
    assert cost == {
        ada_id: pytest.approx(0.06),
        grace_id: pytest.approx(0.02),
        linus_id: pytest.approx(0.001),
    }
    assert await facts(harness, "lines_added") == {ada_id: 50, grace_id: 10}
    assert await facts(harness, "lines_removed") == {ada_id: 5}
    assert await facts(harness, "edit_decisions", decision="accept", tool="Edit") == {
        ada_id: 4,
        grace_id: 1,
    }
    assert await facts(harness, "edit_decisions", decision="reject", language="Python") == {
        ada_id: 1,
        grace_id: 1,
    }
    assert await facts(harness, "commits") == {ada_id: 1}
    assert await facts(harness, "pull_requests") == {ada_id: 1}
    assert await facts(harness, "sessions") == {ada_id: 1, grace_id: 1, linus_id: 1}
    assert await facts(harness, "active_seconds", type="cli") == {
        ada_id: pytest.approx(61),
        grace_id: pytest.approx(30.5),
        linus_id: pytest.approx(30.5),
    }
    # The day is the points' own (UTC), not the server's clock.
    days = await harness.sql("SELECT DISTINCT day FROM assistant_daily")
    assert [str(day) for (day,) in days] == [str(datetime.now(UTC).date())]
    # The account UUID and the installation id are linked to the email's developer.
    links = await harness.client.get(
        f"{project.base}/developers/{ada_id}/identities", headers=project.owner.headers
    )
    assert links.status_code == 200, links.text
    linked = {item["identity"] for item in links.json()["items"]}
    assert {"acc-ada-0001", "inst-ada-9f2c"} <= linked


def log_record(
    developer: Developer, name: str, sequence: int, at: datetime, **attributes: Any
) -> dict[str, Any]:
    """What Claude Code emits for one event: body = the full name, `event.name` the
    short one, its standard attributes and the event's own."""
    return {
        "timestamp": int(at.timestamp() * 1_000_000_000),
        "body": f"claude_code.{name}",
        "attributes": {
            **developer.attributes,
            "event.name": name,
            "event.timestamp": at.isoformat().replace("+00:00", "Z"),
            "event.sequence": sequence,
            "prompt.id": f"prompt-{developer.name}-{sequence // 10}",
            **attributes,
        },
    }


def api_request(developer: Developer, sequence: int, at: datetime, **usage: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "model": MODEL,
        "cost_usd": 0.0123,
        "duration_ms": 2300,
        "input_tokens": 1000,
        "output_tokens": 200,
        "cache_read_tokens": 5000,
        "cache_creation_tokens": 0,
        "request_id": f"req_011{developer.name}{sequence}",
        "speed": "normal",
        "query_source": "repl_main_thread",
    }
    return log_record(developer, "api_request", sequence, at, **(fields | usage))


def claude_code_session(at: datetime) -> list[dict[str, Any]]:
    return [
        log_record(ADA, "user_prompt", 1, at, prompt_length=len(SECRET_PROMPT),
                   prompt=SECRET_PROMPT),
        api_request(ADA, 2, at + timedelta(seconds=3)),
        log_record(ADA, "assistant_response", 3, at + timedelta(seconds=4), model=MODEL,
                   response_length=len(SECRET_RESPONSE), response=SECRET_RESPONSE),
        log_record(ADA, "tool_decision", 4, at + timedelta(seconds=5), tool_name="Edit",
                   decision="accept", source="user_temporary", tool_use_id="toolu_1"),
        log_record(ADA, "tool_result", 5, at + timedelta(seconds=6), tool_name="Edit",
                   success="true", duration_ms=40, decision_type="accept",
                   decision_source="user_temporary", tool_use_id="toolu_1"),
        log_record(ADA, "tool_decision", 6, at + timedelta(seconds=7), tool_name="Bash",
                   decision="reject", source="user_reject", tool_use_id="toolu_2"),
        api_request(ADA, 7, at + timedelta(seconds=9), input_tokens=400, cost_usd=0.004),
        log_record(GRACE, "user_prompt", 1, at, prompt_length=12, prompt="another secret"),
        api_request(GRACE, 2, at + timedelta(seconds=2), input_tokens=300, output_tokens=50,
                    cache_read_tokens=0, cost_usd=0.002),
        log_record(GRACE, "api_error", 3, at + timedelta(seconds=4), model=MODEL,
                   error='{"type":"error","error":{"type":"overloaded_error",'
                   '"message":"Overloaded"}}', status_code=529, duration_ms=900, attempt=11),
        api_request(LINUS, 1, at + timedelta(seconds=1), input_tokens=10, output_tokens=5,
                    cache_read_tokens=0, cost_usd=0.0001),
    ]  # fmt: skip


def sdk_log_batch(records: list[dict[str, Any]]) -> Any:
    """The SDK's own log records for `records`, as its OTLP exporter receives them."""
    memory = InMemoryLogRecordExporter()  # type: ignore[no-untyped-call]
    provider = LoggerProvider(resource=resource())
    provider.add_log_record_processor(SimpleLogRecordProcessor(memory))
    logger = provider.get_logger("com.anthropic.claude_code.events", "2.1.200")
    for record in records:
        logger.emit(**record)
    batch = memory.get_finished_logs()
    provider.shutdown()
    return batch


async def test_log_events_become_model_calls_and_facts_without_the_prompt_text(
    harness: Harness, project: AnalyticsProject, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = harness.clock.now() - timedelta(minutes=20)
    batch = sdk_log_batch(claude_code_session(at))
    async with served(harness) as base_url:
        claude_code_env(monkeypatch, base_url, project.ingest_key)
        exporter = OTLPLogExporter()  # endpoint and key from the environment
        send: Callable[[], Any] = lambda: exporter.export(batch)  # noqa: E731
        first = await asyncio.to_thread(send)
        again = await asyncio.to_thread(send)  # a re-sent export stores nothing twice
        await asyncio.to_thread(exporter.shutdown)
    assert first.name == again.name == "SUCCESS"

    developers = await harness.client.get(
        f"{project.base}/developers", params={"sort": "developer_id"},
        headers=project.owner.headers,
    )  # fmt: skip
    assert developers.status_code == 200, developers.text
    listed = {
        item["developer_id"]: (item["events"], item["errors"], item["total_tokens"])
        for item in developers.json()["items"]
    }
    assert listed == {
        "ada@example.com": (2, 0, 6200 + 5600),
        "grace@example.com": (2, 1, 350),
        "inst-linus-03be": (1, 0, 15),
    }
    costs = {item["developer_id"]: item["cost_usd"] for item in developers.json()["items"]}
    assert costs["ada@example.com"] == pytest.approx(0.0163)
    kpis = await harness.client.get(
        f"{project.base}/metrics", params={"developer": "grace@example.com"},
        headers=project.owner.headers,
    )  # fmt: skip
    assert kpis.status_code == 200, kpis.text
    error_rate = next(kpi for kpi in kpis.json()["kpis"] if kpi["name"] == "error_rate")
    assert (error_rate["value"], error_rate["sample_size"]) == (0.5, 2)

    rows = await harness.sql(
        "SELECT event_id, session_id, developer_id, response_model, input_tokens, "
        "cache_read_tokens, cost_usd, cost_source, latency_ms, status, error_type, "
        "http_status, source FROM events WHERE developer_id = 'grace@example.com' "
        "ORDER BY event_id"
    )
    # Numeric columns come back as Decimal from PostgreSQL.
    normalized = [(*row[:6], float(row[6]), *row[7:]) for row in rows]
    assert normalized == [
        ("cc-sess-grace-1-2", "sess-grace-1", "grace@example.com", MODEL, 300, 0,
         pytest.approx(0.002), "reported", pytest.approx(2300), "ok", None, None,
         "claude_code"),
        ("cc-sess-grace-1-3", "sess-grace-1", "grace@example.com", MODEL, 0, 0, 0, "estimated",
         pytest.approx(900), "error", "overloaded_error", 529, "claude_code"),
    ]  # fmt: skip

    assert await facts(harness, "prompts") == {"ada@example.com": 1, "grace@example.com": 1}
    assert await facts(harness, "prompt_chars") == {
        "ada@example.com": len(SECRET_PROMPT),
        "grace@example.com": 12,
    }
    assert await facts(harness, "tool_decisions", decision="accept", tool="Edit") == {
        "ada@example.com": 1
    }
    assert await facts(harness, "tool_decisions", decision="reject", source="user_reject") == {
        "ada@example.com": 1
    }
    assert await facts(harness, "tool_results", tool="Edit", success="true") == {
        "ada@example.com": 1
    }
    stored = await all_text(harness)
    for secret in ("TOP-SECRET", "another secret"):
        assert secret not in stored


def test_developer_is_the_email_then_the_account_then_the_installation() -> None:
    both = claude_code.who({"user.email": "a@x.io", "user.account_uuid": "u1"}, {"user.id": "i"})
    assert (both.developer_id, both.email, both.other_ids) == ("a@x.io", "a@x.io", ("u1", "i"))
    account = claude_code.who({"user.account_uuid": "u1", "user.id": "i"}, {})
    assert (account.developer_id, account.other_ids) == ("u1", ())
    assert claude_code.who({}, {"enduser.id": "jdoe@x.io", "user.id": "i"}).developer_id == (
        "jdoe@x.io"
    )
    assert claude_code.who({}, {}).developer_id == ""
