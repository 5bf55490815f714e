from __future__ import annotations

import httpx
from prometheus_client.parser import text_string_to_metric_families

from prodlens.app import create_app
from tests.conftest import SettingsFactory, serving


def samples(text: str, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name:
                out[tuple(sorted(sample.labels.items()))] = sample.value
    return out


async def test_metrics_parse_and_label_by_route_template(
    make_sqlite_settings: SettingsFactory,
) -> None:
    app = create_app(make_sqlite_settings())

    @app.get("/api/v1/_test/widgets/{widget_id}")
    async def get_widget(widget_id: str) -> dict[str, str]:
        return {"id": widget_id}

    async with serving(app) as client:
        before = samples((await client.get("/metrics")).text, "prodlens_http_requests_total")
        for widget_id in ("w-111", "w-222", "w-333"):
            assert (await client.get(f"/api/v1/_test/widgets/{widget_id}")).status_code == 200
        await client.get("/api/v1/unknown/thing-9")
        response = await client.get("/metrics")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    families = {family.name for family in text_string_to_metric_families(text)}
    assert {
        "prodlens_http_requests",
        "prodlens_http_request_duration_seconds",
        "prodlens_http_request_size_bytes",
        "prodlens_http_response_size_bytes",
        "prodlens_http_requests_in_progress",
        "prodlens_db_queries",
    } <= families

    after = samples(text, "prodlens_http_requests_total")
    key = (("method", "GET"), ("route", "/api/v1/_test/widgets/{widget_id}"), ("status", "2xx"))
    assert after[key] - before.get(key, 0) == 3
    unmatched = (("method", "GET"), ("route", "<unmatched>"), ("status", "4xx"))
    assert after[unmatched] - before.get(unmatched, 0) == 1
    for raw in ("w-111", "w-222", "thing-9"):
        assert raw not in text


async def test_request_and_response_sizes_are_observed(api: httpx.AsyncClient) -> None:
    await api.post("/health", content=b"x" * 500)  # 405, still measured
    text = (await api.get("/metrics")).text
    sizes = samples(text, "prodlens_http_request_size_bytes_sum")
    assert sizes[(("method", "POST"), ("route", "/health"))] >= 500
    responses = samples(text, "prodlens_http_response_size_bytes_count")
    assert responses[(("method", "GET"), ("route", "/metrics"))] >= 0


async def test_pool_checkouts_are_gauged(make_settings: SettingsFactory) -> None:
    app = create_app(make_settings())
    async with serving(app) as client:
        idle = samples((await client.get("/metrics")).text, "prodlens_db_pool_checked_out")[()]
        async with app.state.database.engine.connect():
            held = samples((await client.get("/metrics")).text, "prodlens_db_pool_checked_out")
        assert held[()] == idle + 1


async def test_database_queries_are_counted(api: httpx.AsyncClient) -> None:
    def queries(text: str) -> float:
        return samples(text, "prodlens_db_queries_total")[()]

    before = queries((await api.get("/metrics")).text)
    assert (await api.get("/health/ready")).status_code == 200
    assert queries((await api.get("/metrics")).text) > before
