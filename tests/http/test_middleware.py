from __future__ import annotations

import httpx
import pytest

from prodlens.app import create_app
from prodlens.http.security_headers import API_CSP, DOCS_CSP
from tests.conftest import SettingsFactory, serving


async def test_correlation_id_is_echoed(api: httpx.AsyncClient) -> None:
    response = await api.get("/health", headers={"X-Correlation-ID": "req-42.abc:1"})
    assert response.headers["x-correlation-id"] == "req-42.abc:1"


@pytest.mark.parametrize(
    "incoming", ["", "bad id with spaces", "x" * 200, "<script>", "a\tb", "-leading-dash"]
)
async def test_insane_correlation_id_is_replaced(api: httpx.AsyncClient, incoming: str) -> None:
    response = await api.get("/health", headers={"X-Correlation-ID": incoming})
    generated = response.headers["x-correlation-id"]
    assert generated != incoming
    assert len(generated) == 32
    assert generated.isalnum()


async def test_correlation_id_generated_when_absent(api: httpx.AsyncClient) -> None:
    first = (await api.get("/health")).headers["x-correlation-id"]
    second = (await api.get("/health")).headers["x-correlation-id"]
    assert first != second


async def test_process_time_header(api: httpx.AsyncClient) -> None:
    response = await api.get("/api/v1")
    assert float(response.headers["x-process-time"]) >= 0


@pytest.mark.parametrize("path", ["/health", "/api/v1", "/api/v1/no-such-route"])
async def test_security_headers_on_every_response(api: httpx.AsyncClient, path: str) -> None:
    headers = (await api.get(path)).headers
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["x-frame-options"] == "DENY"
    assert headers["referrer-policy"] == "strict-origin-when-cross-origin"
    assert headers["content-security-policy"] == API_CSP
    assert "camera=()" in headers["permissions-policy"]
    assert "strict-transport-security" not in headers  # development


async def test_docs_get_a_working_csp(api: httpx.AsyncClient) -> None:
    response = await api.get("/docs")
    assert response.status_code == 200
    assert response.headers["content-security-policy"] == DOCS_CSP


async def test_hsts_in_production(make_sqlite_settings: SettingsFactory) -> None:
    settings = make_sqlite_settings(
        env="production", secret_key="s" * 40, allow_sqlite_in_production=True
    )
    async with serving(create_app(settings)) as client:
        response = await client.get("/health")
    assert response.headers["strict-transport-security"].startswith("max-age=31536000")


async def test_cors_allows_listed_origins_only(make_sqlite_settings: SettingsFactory) -> None:
    settings = make_sqlite_settings(http={"cors_origins": "https://app.example"})
    async with serving(create_app(settings)) as client:
        preflight = await client.options(
            "/api/v1",
            headers={
                "Origin": "https://app.example",
                "Access-Control-Request-Method": "GET",
            },
        )
        assert preflight.status_code == 200
        assert preflight.headers["access-control-allow-origin"] == "https://app.example"
        assert preflight.headers["access-control-allow-credentials"] == "true"

        foreign = await client.get("/api/v1", headers={"Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in foreign.headers


async def test_no_cors_headers_without_allow_list(api: httpx.AsyncClient) -> None:
    response = await api.get("/api/v1", headers={"Origin": "https://app.example"})
    assert "access-control-allow-origin" not in response.headers


async def test_large_responses_are_gzipped(api: httpx.AsyncClient) -> None:
    response = await api.get("/api/v1/openapi.json", headers={"Accept-Encoding": "gzip"})
    assert response.headers["content-encoding"] == "gzip"
    assert response.json()["info"]["title"] == "ProdLens API"
    small = await api.get("/health", headers={"Accept-Encoding": "gzip"})
    assert "content-encoding" not in small.headers


async def test_maintenance_mode(make_sqlite_settings: SettingsFactory) -> None:
    settings = make_sqlite_settings(maintenance_mode=True, http={"maintenance_retry_after": 300})
    async with serving(create_app(settings)) as client:
        blocked = await client.get("/api/v1")
        assert blocked.status_code == 503
        assert blocked.headers["retry-after"] == "300"
        assert blocked.headers["content-type"] == "application/problem+json"
        assert blocked.json()["code"] == "service.maintenance"
        for exempt in ("/health", "/health/live", "/health/ready", "/metrics"):
            assert (await client.get(exempt)).status_code == 200, exempt


async def test_refused_preflight_is_a_problem(make_sqlite_settings: SettingsFactory) -> None:
    settings = make_sqlite_settings(http={"cors_origins": "https://app.example"})
    async with serving(create_app(settings)) as client:
        response = await client.options(
            "/api/v1",
            headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"},
        )
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "http.cors_rejected"
    assert "origin" in response.json()["detail"]
