"""Every error is RFC 9457 problem+json with a code and correlation id; never a 500 or HTML."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import Body, FastAPI
from pydantic import BaseModel

from prodlens.app import create_app
from prodlens.kit.errors import PROBLEM_MEDIA_TYPE, NotFound
from tests.conftest import SettingsFactory, serving

PROBLEM_FIELDS = {"type", "title", "status", "detail", "instance", "code", "correlation_id"}


class Thing(BaseModel):
    name: str
    count: int


def with_test_routes(app: FastAPI) -> FastAPI:
    @app.post("/api/v1/_test/things")
    async def create_thing(thing: Thing) -> Thing:
        return thing

    @app.post("/api/v1/_test/raw")
    async def echo_raw(payload: dict[str, object] = Body(...)) -> dict[str, object]:  # noqa: B008
        return payload

    @app.get("/api/v1/_test/missing")
    async def missing() -> None:
        raise NotFound("No such thing.")

    @app.get("/api/v1/_test/crash")
    async def crash() -> None:
        raise RuntimeError("SELECT password FROM users -- internal detail")

    return app


@pytest.fixture
async def test_api(make_sqlite_settings: SettingsFactory) -> AsyncIterator[httpx.AsyncClient]:
    async with serving(with_test_routes(create_app(make_sqlite_settings()))) as client:
        yield client


def assert_problem(response: httpx.Response, status: int, code: str) -> dict[str, object]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM_MEDIA_TYPE
    body = response.json()
    assert body.keys() >= PROBLEM_FIELDS
    assert body["status"] == status
    assert body["code"] == code
    assert body["type"] == f"urn:prodlens:problem:{code}"
    assert body["instance"] == response.request.url.path
    assert body["correlation_id"] == response.headers["x-correlation-id"]
    return dict(body)


async def test_unknown_route_is_404_problem(test_api: httpx.AsyncClient) -> None:
    assert_problem(await test_api.get("/api/v1/nothing-here"), 404, "http.not_found")


async def test_wrong_method_is_405_problem(test_api: httpx.AsyncClient) -> None:
    response = await test_api.delete("/health")
    assert_problem(response, 405, "http.method_not_allowed")
    assert "GET" in response.headers["allow"]


async def test_domain_error_keeps_its_detail(test_api: httpx.AsyncClient) -> None:
    body = assert_problem(await test_api.get("/api/v1/_test/missing"), 404, "http.not_found")
    assert body["detail"] == "No such thing."


async def test_malformed_json_is_400(test_api: httpx.AsyncClient) -> None:
    response = await test_api.post(
        "/api/v1/_test/things",
        content=b'{"name": "a", "count": ',
        headers={"content-type": "application/json"},
    )
    assert_problem(response, 400, "request.malformed_json")


async def test_validation_error_lists_fields(test_api: httpx.AsyncClient) -> None:
    response = await test_api.post("/api/v1/_test/things", json={"count": "many"})
    body = assert_problem(response, 422, "validation.failed")
    errors = body["errors"]
    assert isinstance(errors, list)
    fields = {error["field"]: error["type"] for error in errors}
    assert fields == {"body.name": "missing", "body.count": "int_parsing"}


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "application/xml"]
)
async def test_wrong_content_type_is_4xx_problem(
    test_api: httpx.AsyncClient, content_type: str
) -> None:
    response = await test_api.post(
        "/api/v1/_test/things",
        content=b'{"name": "a", "count": 1}',
        headers={"content-type": content_type},
    )
    assert 400 <= response.status_code < 500
    assert response.headers["content-type"] == PROBLEM_MEDIA_TYPE


async def test_declared_oversized_body_is_413_before_reading(
    test_api: httpx.AsyncClient,
) -> None:
    body = b'{"name": "' + b"a" * (5 * 1024 * 1024) + b'", "count": 1}'
    response = await test_api.post(
        "/api/v1/_test/things", content=body, headers={"content-type": "application/json"}
    )
    assert_problem(response, 413, "http.payload_too_large")


async def test_streamed_oversized_body_is_413(test_api: httpx.AsyncClient) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"name": "'
        for _ in range(40):
            yield b"a" * 64 * 1024
        yield b'", "count": 1}'

    response = await test_api.post(
        "/api/v1/_test/things", content=chunks(), headers={"content-type": "application/json"}
    )
    assert "content-length" not in response.request.headers
    assert_problem(response, 413, "http.payload_too_large")


async def test_oversized_body_on_route_that_ignores_it(test_api: httpx.AsyncClient) -> None:
    response = await test_api.request("GET", "/health", content=b"x" * (5 * 1024 * 1024))
    assert_problem(response, 413, "http.payload_too_large")


async def test_ingest_paths_allow_larger_bodies(make_sqlite_settings: SettingsFactory) -> None:
    app = create_app(make_sqlite_settings())

    @app.post("/api/v1/projects/{project_id}/ingest/test")
    async def ingest_probe(project_id: str, payload: dict[str, object] = Body(...)) -> int:  # noqa: B008
        return len(payload["blob"])  # type: ignore[arg-type]

    blob = "a" * (3 * 1024 * 1024)
    async with serving(app) as client:
        response = await client.post("/api/v1/projects/p1/ingest/test", json={"blob": blob})
        assert response.status_code == 200
        assert response.json() == len(blob)
        too_big = await client.post(
            "/api/v1/projects/p1/ingest/test", json={"blob": "a" * (11 * 1024 * 1024)}
        )
        assert too_big.status_code == 413


async def test_unexpected_error_is_generic_500(
    capsys: pytest.CaptureFixture[str],  # first: the app's log handler binds the captured stderr
    make_sqlite_settings: SettingsFactory,
) -> None:
    app = with_test_routes(create_app(make_sqlite_settings(log_format="json")))
    async with serving(app) as client:
        response = await client.get(
            "/api/v1/_test/crash", headers={"X-Correlation-ID": "crash-report-1"}
        )
    body = assert_problem(response, 500, "internal.error")
    assert "password" not in response.text
    assert "SELECT" not in response.text
    assert "Traceback" not in response.text
    assert body["correlation_id"] == "crash-report-1"
    assert response.headers["x-content-type-options"] == "nosniff"

    records = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line]
    [error] = [r for r in records if r["event"] == "unhandled_error"]
    assert error["level"] == "error"
    assert error["correlation_id"] == "crash-report-1"
    assert "RuntimeError" in error["exception"]  # the traceback stays in the log


@pytest.mark.parametrize(
    "body",
    [b"\x00\x01\x02", b"\xff\xfe\xfd invalid utf-8", b'{"name": "\x00", "count": 1e999999}'],
)
async def test_hostile_bytes_never_500(test_api: httpx.AsyncClient, body: bytes) -> None:
    response = await test_api.post(
        "/api/v1/_test/things", content=body, headers={"content-type": "application/json"}
    )
    assert 400 <= response.status_code < 500
    assert response.headers["content-type"] == PROBLEM_MEDIA_TYPE
