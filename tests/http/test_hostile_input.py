"""Hostile input gets a 4xx the operation declares, never a 5xx (issue 17, item 5):
page numbers, sort values, JSON nesting, NUL and half surrogate pairs, a change that
races a delete. The walks cover every operation of the OpenAPI document (or every
route of a dependency), so a new route is covered the day it is added."""

from __future__ import annotations

import asyncio
import gzip
import json
import re
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.dependencies.models import Dependant
from fastapi.routing import iter_route_contexts
from google.protobuf import json_format
from opentelemetry.exporter.otlp.proto.common._log_encoder import encode_logs
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

from prodlens.kit.input_limits import NUL_DROPPED, PER_ITEM
from prodlens.kit.pagination import MAX_PAGE, PageDep
from prodlens.users import service as users_service
from tests.analytics.copilot_reports import ndjson, small_report
from tests.analytics.helpers import event
from tests.analytics.test_ingest_claude_code import ADA, api_request, sdk_log_batch
from tests.analytics.test_ingest_litellm import payload as litellm_payload
from tests.analytics.test_ingest_otlp import CHAT, export, json_export, json_span, proto_span
from tests.conftest import HarnessFactory, Stack, harness_for, settings_for
from tests.harness import Account, Harness

METHODS = ("get", "post", "put", "patch", "delete")
NO_LIMITS = {"rate_limits": {"enabled": False}}
PAGE_DEPENDENCY = PageDep.__metadata__[0].dependency  # type: ignore[attr-defined]
DEEP = 1000  # what gave RecursionError (a 500) before the depth limit


def nested(depth: int, leaf: Any = 1) -> Any:
    """`depth` levels of arrays and objects, alternating, around `leaf`."""
    value = leaf
    for level in range(depth):
        value = [value] if level % 2 else {"a": value}
    return value


def deep_text(depth: int, *, objects: bool = False) -> str:
    """JSON text nested `depth` deep (deeper than `json.dumps` writes)."""
    if objects:
        return '{"a":' * depth + "1" + "}" * depth
    return "[" * depth + "]" * depth


@dataclass
class World:
    """An admin who owns a project, with a key of every scope, and the API document."""

    h: Harness
    owner: Account
    project_id: str
    key: str
    document: dict[str, Any]

    @classmethod
    async def create(cls, h: Harness) -> World:
        owner = await h.signup("owner")
        await h.make_admin(owner)
        owner = await h.sign_in(owner)  # a token that says admin
        project = await h.client.post(
            "/api/v1/projects", json={"name": "Hostile"}, headers=owner.headers
        )
        assert project.status_code == 201, project.text
        project_id = project.json()["id"]
        key = await h.client.post(
            f"/api/v1/projects/{project_id}/api-keys",
            json={"name": "all", "scopes": ["ingest", "read"]},
            headers=owner.headers,
        )
        assert key.status_code == 201, key.text
        document = (await h.client.get("/api/v1/openapi.json")).json()
        return cls(h, owner, project_id, key.json()["key"], document)

    def operations(self) -> Iterator[tuple[str, str, dict[str, Any]]]:
        for path, item in self.document["paths"].items():
            for method, operation in item.items():
                if method in METHODS:
                    yield path, method, operation

    def url(self, path: str, **values: str) -> str:
        def value(match: re.Match[str]) -> str:
            name = match[1]
            return values.get(name, self.project_id if name == "project_id" else "x")

        return re.sub(r"\{(\w+)\}", value, path)

    def credentials(self, operation: dict[str, Any]) -> dict[str, str]:
        schemes = {name for requirement in operation.get("security", []) for name in requirement}
        if "bearer" in schemes:
            return dict(self.owner.headers)
        if "api_key" in schemes:
            return {"X-API-Key": self.key}
        return {}

    async def send(
        self, method: str, path: str, operation: dict[str, Any], url: str, **request: Any
    ) -> httpx.Response:
        """The answer, which must be one the operation declares (and never a 5xx)."""
        headers = {**self.credentials(operation), **request.pop("headers", {})}
        answer = await self.h.client.request(method.upper(), url, headers=headers, **request)
        where = f"{method.upper()} {path}: {answer.status_code} {answer.text[:300]}"
        assert answer.status_code < 500, where
        assert str(answer.status_code) in operation["responses"], "undeclared: " + where
        return answer


@pytest.fixture
async def world(make_harness: HarnessFactory) -> AsyncIterator[World]:
    async with make_harness(**NO_LIMITS) as h:
        yield await World.create(h)


def ok_time(world: World) -> Any:
    """A time an event may have: a few minutes ago."""
    return world.h.clock.now() - timedelta(minutes=5)


def _uses(dependant: Dependant, call: Any) -> bool:
    return any(dep.call is call or _uses(dep, call) for dep in dependant.dependencies)


def problem(answer: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    body: dict[str, Any] = answer.json()
    assert body["code"] == code, body
    return body


# --- page numbers and sort values ---------------------------------------------------------


async def test_page_numbers_are_bounded_on_every_list(world: World) -> None:
    """`page` ≥ 2^62 overflowed the offset (OverflowError on SQLite, int64 out of range
    on PostgreSQL): every list answers 422 past MAX_PAGE, and still answers at it."""
    lists = [
        route
        for route in iter_route_contexts(world.h.app.routes)
        if (dependant := getattr(route, "dependant", None)) is not None
        and _uses(dependant, PAGE_DEPENDENCY)
    ]
    assert len(lists) >= 6, [route.path for route in lists]
    for route in lists:
        (method,) = tuple(route.methods or ())
        path = str(route.path)
        operation = world.document["paths"][path][method.lower()]
        url = world.url(path)
        for page in (2**62, 2**63, 10**30, MAX_PAGE + 1):
            answer = await world.send(method, path, operation, url, params={"page": page})
            body = problem(answer, 422, "validation.failed")
            assert [error["field"] for error in body["errors"]] == ["query.page"], body
        for size in (1, 100):
            last = await world.send(
                method, path, operation, url, params={"page": MAX_PAGE, "page_size": size}
            )
            assert last.status_code == 200, f"{path}: {last.text}"


async def test_a_sort_naming_no_field_is_refused(world: World) -> None:
    """`sessions?sort=-` was a KeyError (500), and `--started_at` too."""
    sorted_lists = [
        (path, method, operation)
        for path, method, operation in world.operations()
        if any(p["name"] == "sort" for p in operation.get("parameters", []))
    ]
    assert len(sorted_lists) >= 6
    for path, method, operation in sorted_lists:
        for sort in ("-", "", "--", "--started_at", "--created_at", "-x", "x-"):
            answer = await world.send(
                method, path, operation, world.url(path), params={"sort": sort}
            )
            body = problem(answer, 422, "pagination.invalid_sort")
            assert body["allowed"], body


# --- JSON nesting ---------------------------------------------------------------------------


async def test_json_nested_too_deep_is_refused_on_every_body(world: World) -> None:
    """1,000 levels gave RecursionError (500) on ingest and login, and FastAPI's bare
    400 elsewhere; every operation that takes a body now answers 400 request.too_deep."""
    bodies = [(p, m, o) for p, m, o in world.operations() if "requestBody" in o]
    assert len(bodies) > 30
    for path, method, operation in bodies:
        answer = await world.send(
            method,
            path,
            operation,
            world.url(path),
            content=deep_text(DEEP),
            headers={"content-type": "application/json"},
        )
        problem(answer, 400, "request.too_deep")


async def test_json_depth_limit_holds_whatever_the_form_of_the_body(world: World) -> None:
    client, key = world.h.client, {"X-API-Key": world.key}
    ok = event(1, ok_time(world))
    ingest = "/api/v1/ingest/events"
    cases: dict[str, tuple[str, bytes, dict[str, str]]] = {
        # One NDJSON line too deep, after a good one.
        "ndjson": (ingest, (json.dumps(ok) + "\n" + deep_text(DEEP)).encode(), {}),
        # No content type: LiteLLM's routes read the body as JSON anyway.
        "untyped": ("/api/v1/ingest/litellm", deep_text(DEEP).encode(), {}),
        # UTF-16, which json.loads detects and reads.
        "utf-16": ("/api/v1/auth/login", deep_text(DEEP).encode("utf-16"), {}),
        # A UTF-8 byte order mark before it.
        "bom": ("/api/v1/auth/login", b"\xef\xbb\xbf" + deep_text(DEEP).encode(), {}),
        # Said to be compressed, but not: FastAPI reads it as it is.
        "not gzip": (
            "/api/v1/auth/login",
            deep_text(DEEP).encode(),
            {"content-encoding": "gzip", "content-type": "application/json"},
        ),
        # Compressed: checked once inflated.
        "gzip": (
            "/api/v1/ingest/otlp/v1/traces",
            gzip.compress(('{"resourceSpans": ' + deep_text(DEEP) + "}").encode()),
            {"content-encoding": "gzip", "content-type": "application/json"},
        ),
        # Deep inside one event of an otherwise good batch (a 500 for the batch before).
        "900-deep attributes": (
            ingest,
            (
                json.dumps([ok, {**event(2, ok_time(world)), "attributes": {}}])[: -len("{}}]")]
                + deep_text(900, objects=True)
                + "}]"
            ).encode(),
            {"content-type": "application/json"},
        ),
    }
    for name, (url, body, headers) in cases.items():
        answer = await client.post(url, content=body, headers={**key, **headers})
        assert answer.status_code == 400, f"{name}: {answer.text}"
        assert answer.json()["code"] == "request.too_deep", name

    # Streamed in small pieces: the count carries across them.
    async def pieces() -> AsyncIterator[bytes]:
        text = json.dumps({"name": "x", "description": nested(100, ']]]\\"[[[')}).encode()
        for start in range(0, len(text), 7):
            yield text[start : start + 7]

    streamed = await client.post(
        "/api/v1/projects",
        content=pieces(),
        headers={**world.owner.headers, "content-type": "application/json"},
    )
    problem(streamed, 400, "request.too_deep")
    assert await world.h.sql("SELECT count(*) FROM events") == [(0,)]


async def test_brackets_in_strings_do_not_count(world: World) -> None:
    """Strings are skipped, escaped quotes and backslashes included."""
    tricky = '\\"' + "[" * 200 + '\\\\\\"' + "{" * 200 + "\\\\"
    body = '{"name": "' + tricky[:90] + '", "description": "' + tricky + '"}'
    answer = await world.h.client.post(
        "/api/v1/projects",
        content=body,
        headers={**world.owner.headers, "content-type": "application/json"},
    )
    assert answer.status_code == 201, answer.text
    assert answer.json()["description"] == json.loads(body)["description"]


async def test_nesting_up_to_the_setting_is_read_and_stored(
    make_harness: HarnessFactory,
) -> None:
    """At the largest depth the setting allows, nothing after parsing recurses too far
    (validation, the privacy filter, storage); one level more is refused."""
    async with make_harness(**NO_LIMITS, http={"max_json_depth": 512}) as h:
        world = await World.create(h)
        key = {"X-API-Key": world.key}
        # Array (1), event object (2), attributes (3): the value adds the rest.
        fits = {**event(1, ok_time(world)), "attributes": {"v": nested(509)}}
        answer = await h.client.post("/api/v1/ingest/events", json=[fits], headers=key)
        assert answer.status_code == 200, answer.text
        assert answer.json()["summary"]["accepted"] == 1, answer.text
        deeper = {**event(2, ok_time(world)), "attributes": {"v": nested(510)}}
        refused = await h.client.post("/api/v1/ingest/events", json=[deeper], headers=key)
        problem(refused, 400, "request.too_deep")
        assert await h.sql("SELECT event_id FROM events") == [("evt-1",)]


# --- NUL and half surrogate pairs -------------------------------------------------------------


async def test_nul_in_any_path_or_query_parameter_is_422(world: World) -> None:
    """On PostgreSQL, NUL in a filter or a path parameter failed the lookup (500)."""
    checked = 0
    for path, method, operation in world.operations():
        if not path.startswith("/api/"):
            continue
        parameters = operation.get("parameters", [])
        for parameter in parameters:
            name = parameter["name"]
            if parameter["in"] == "path":
                url = world.url(path, **{name: "a%00b"})
                answer = await world.send(method, path, operation, url)
                field = "path"
            elif parameter["in"] == "query":  # text or not: NUL is refused first
                url = world.url(path)
                answer = await world.send(method, path, operation, url, params={name: "a\x00"})
                field = f"query.{name}"
            else:
                continue
            body = problem(answer, 422, "validation.failed")
            assert [error["field"] for error in body["errors"]] == [field], (path, body)
            checked += 1
    assert checked > 80


UNSTORABLE_BODIES = {
    "nul": '{"name": "a\\u0000b", "email": "a@example.com"}',
    "high half": '{"name": "a\\ud800b", "email": "a@example.com"}',
    "low half": '{"name": "\\udc00", "email": "a@example.com"}',
    "two high halves": '{"name": "\\ud83d\\ud83d\\ude00", "email": "a@example.com"}',
}


async def test_unstorable_text_in_any_json_body_is_422(world: World) -> None:
    """NUL in a body (a login, a project name) failed on PostgreSQL with a 500."""
    bodies = [
        (p, m, o) for p, m, o in world.operations() if "requestBody" in o and PER_ITEM not in p
    ]
    assert len(bodies) > 20
    for path, method, operation in bodies:
        for name, body in UNSTORABLE_BODIES.items():
            if name == "nul" and path.endswith(NUL_DROPPED):
                continue  # dropped from what it stores (tests/security/test_webhooks.py)
            answer = await world.send(
                method,
                path,
                operation,
                world.url(path),
                content=body,
                headers={"content-type": "application/json"},
            )
            problem_body = problem(answer, 422, "validation.failed")
            assert problem_body["errors"][0]["field"] == "body", (path, name)
            assert problem_body["errors"][0]["type"] == "string_unstorable_character"
    form = await world.h.client.post(
        "/api/v1/auth/login", data={"username": "a\x00b", "password": "x"}
    )
    problem(form, 422, "validation.failed")
    # A body said to be compressed is read as it is by FastAPI: it is scanned as it is.
    mislabeled = await world.h.client.post(
        "/api/v1/projects",
        content=UNSTORABLE_BODIES["nul"],
        headers={
            **world.owner.headers,
            "content-type": "application/json",
            "content-encoding": "gzip",
        },
    )
    problem(mislabeled, 422, "validation.failed")


async def test_text_that_only_looks_unstorable_is_kept(world: World) -> None:
    """An escaped backslash before `u0000` is text, and a surrogate pair is a character."""
    body = '{"name": "emoji \\ud83d\\ude00", "description": "\\\\u0000 and \\\\\\\\ud800"}'
    answer = await world.h.client.post(
        "/api/v1/projects",
        content=body,
        headers={**world.owner.headers, "content-type": "application/json"},
    )
    assert answer.status_code == 201, answer.text
    assert answer.json()["name"] == "emoji \U0001f600"
    assert answer.json()["description"] == "\\u0000 and \\\\ud800"


async def test_ingest_rejects_only_the_item_with_unstorable_text(world: World) -> None:
    """A NUL in one event failed the whole batch on PostgreSQL (500): now that event
    is rejected with a reason and the rest is stored, in every ingest format."""
    h, key = world.h, {"X-API-Key": world.key}
    at = ok_time(world)
    native = [
        event(1, at),
        event(2, at, repo="acme/\x00"),
        event(3, at, attributes={"note": "a\x00b"}),
        event(4, at, attributes={"k\x00": 1}),
        event(5, at, attributes={"list": ["ok", "\ud800"]}),
        event(6, at, event_id="evt-\ud800"),
        event(7, at),
    ]
    answer = await h.client.post(
        "/api/v1/ingest/events",
        content=json.dumps(native),  # lone surrogates as \ud800 escapes
        headers={**key, "content-type": "application/json"},
    )
    assert answer.status_code == 200, answer.text
    results = answer.json()["results"]
    assert [r["status"] for r in results] == ["accepted"] + ["rejected"] * 5 + ["accepted"]
    assert "repo holds NUL" in results[1]["reason"]
    assert "attributes.note" in results[2]["reason"]
    assert "cannot be stored" in results[3]["reason"]
    assert "attributes.list[1]" in results[4]["reason"]
    assert results[5]["event_id"] is None  # not echoed: it cannot be encoded
    beside = await h.client.post(
        "/api/v1/ingest/events",
        content=json.dumps({"events": native, "\ud800": 1}),
        headers={**key, "content-type": "application/json"},
    )
    problem(beside, 422, "ingest.invalid_batch")  # naming the field, as far as it can

    # LiteLLM: the person the key names, with an unstorable email, is not linked.
    litellm = litellm_payload(1, at)
    litellm["metadata"] = {**litellm["metadata"], "user_api_key_user_email": "a\x00@x.io"}
    unreadable = litellm_payload(3, at, id="call-\ud800", prompt_tokens="lots")
    answer = await h.client.post(
        "/api/v1/ingest/litellm",
        content=json.dumps([litellm, litellm_payload(2, at, id="litellm-call-\x002"), unreadable]),
        headers={**key, "content-type": "application/json"},
    )
    assert answer.status_code == 200, answer.text
    results = answer.json()["results"]
    assert [r["status"] for r in results] == ["accepted", "rejected", "rejected"]
    assert results[2]["event_id"] is None  # rejected for its tokens, its id not echoed

    # OTLP traces, JSON and protobuf: the span with NUL is rejected alone.
    spans = [
        json_span("eee19b7ec3c1b101", at, CHAT),
        json_span("eee19b7ec3c1b102", at, {**CHAT, "gen_ai.request.model": "gpt\x00"}),
    ]
    traces = "/api/v1/ingest/otlp/v1/traces"
    answer = await h.client.post(traces, json=json_export(*spans), headers=key)
    assert answer.status_code == 200, answer.text
    assert answer.json()["partialSuccess"]["rejectedSpans"] == "1"
    protobuf = export(
        proto_span("eee19b7ec3c1b103", at, CHAT),
        proto_span("eee19b7ec3c1b104", at, {**CHAT, "gen_ai.conversation.id": "c\x00"}),
    )
    answer = await h.client.post(
        traces, content=protobuf, headers={**key, "content-type": "application/x-protobuf"}
    )
    assert answer.status_code == 200, answer.text
    reply = ExportTraceServiceResponse.FromString(answer.content)
    assert reply.partial_success.rejected_spans == 1

    # OTLP logs (Claude Code) and metrics: the record or point alone.
    logs = json_format.MessageToDict(
        encode_logs(
            sdk_log_batch([api_request(ADA, 1, at), api_request(ADA, 2, at, model="claude\x00")])
        )
    )
    answer = await h.client.post("/api/v1/ingest/otlp/v1/logs", json=logs, headers=key)
    assert answer.status_code == 200, answer.text
    assert answer.json()["partialSuccess"]["rejectedLogRecords"] == "1"
    answer = await h.client.post(
        "/api/v1/ingest/otlp/v1/metrics", json=_metrics(world, ["ada@x.io", "a\x00"]), headers=key
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["partialSuccess"]["rejectedDataPoints"] == "1"

    # A Copilot report: the record alone.
    records = small_report(h.clock.now().date())
    records[1]["user_login"] = "ben\x00"
    answer = await h.client.post(
        f"/api/v1/projects/{world.project_id}/ingest/copilot", content=ndjson(records), headers=key
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["rejected"] == 1
    assert "line 2" in answer.json()["rejections"][0]

    stored = {row[0] for row in await h.sql("SELECT event_id FROM events")}
    assert {"evt-1", "evt-7", "litellm-call-1"} <= stored
    assert len(stored) == 3 + 1 + 1 + 1  # + one span of each encoding, one Claude Code call
    linked = await h.sql("SELECT count(*) FROM developer_identities WHERE kind = 'litellm'")
    assert linked == [(0,)]


def _metrics(world: World, emails: list[str]) -> dict[str, Any]:
    now = int(world.h.clock.now().timestamp()) * 10**9
    points = [
        {
            "attributes": [{"key": "user.email", "value": {"stringValue": email}}],
            "startTimeUnixNano": str(now - 10**9),
            "timeUnixNano": str(now),
            "asInt": "4",
        }
        for email in emails
    ]
    delta = {"aggregationTemporality": 1, "dataPoints": points}
    metric = {"name": "claude_code.commit.count", "sum": delta}
    return {"resourceMetrics": [{"scopeMetrics": [{"metrics": [metric]}]}]}


# --- a change racing a delete -------------------------------------------------------------


LOCK_WAIT_TIMEOUT_S = 30.0


async def _wait_for_a_lock_wait(h: Harness, racing: asyncio.Task[httpx.Response]) -> None:
    """Until some transaction of this database waits for a row lock (the racing request)."""
    deadline = time.monotonic() + LOCK_WAIT_TIMEOUT_S
    while time.monotonic() < deadline:
        if racing.done():
            raise AssertionError(f"the racing request did not wait: {racing.result().text}")
        waiting = await h.sql(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        if waiting[0][0]:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the racing request never waited for the deleted row")


async def test_a_change_racing_a_delete_finds_no_account(
    postgres_stack: Stack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PATCH /users/{id} while a DELETE of that user is in flight: it read the row before
    the delete committed, then wrote audit events for a user that was gone (a foreign
    key error, 500). The row is locked for a change now: the PATCH waits for the delete
    and finds no account."""
    settings = settings_for(postgres_stack, tmp_path / "var", **NO_LIMITS)
    async with harness_for(settings) as h:
        admin = await h.signup("root")
        await h.make_admin(admin)
        await h.sign_in(admin)
        target = await h.signup("target")
        target_id = (await h.client.get("/api/v1/auth/me", headers=target.headers)).json()["id"]
        racing: list[asyncio.Task[httpx.Response]] = []
        delete = users_service.delete

        async def delete_then_let_a_change_race(*args: Any, **kwargs: Any) -> None:
            await delete(*args, **kwargs)  # deleted, not yet committed
            racing.append(
                asyncio.create_task(
                    h.client.patch(
                        f"/api/v1/users/{target_id}",
                        json={"role": "admin", "tier": "premium"},
                        headers=admin.headers,
                    )
                )
            )
            await _wait_for_a_lock_wait(h, racing[0])

        monkeypatch.setattr(users_service, "delete", delete_then_let_a_change_race)
        deleted = await h.client.delete(f"/api/v1/users/{target_id}", headers=admin.headers)
        assert deleted.status_code == 204, deleted.text
        changed = await racing[0]
        problem(changed, 404, "users.not_found")
        assert await h.sql("SELECT count(*) FROM users WHERE id = :id", id=target_id) == [(0,)]
