from __future__ import annotations

import re

import httpx

from prodlens.app import create_app
from tests.conftest import SettingsFactory, serving

METHODS = {"get", "post", "put", "patch", "delete"}


async def test_document_metadata(api: httpx.AsyncClient) -> None:
    schema = (await api.get("/api/v1/openapi.json")).json()
    assert schema["openapi"].startswith("3.1")
    info = schema["info"]
    assert info["title"] == "ProdLens API"
    assert info["version"]
    assert info["contact"]["name"]
    assert info["license"]["identifier"] == "Apache-2.0"
    assert schema["servers"][0]["url"] == "/"
    tags = {tag["name"]: tag["description"] for tag in schema["tags"]}
    assert {"health", "meta", "observability"} <= tags.keys()
    assert all(tags.values())


async def test_every_operation_is_fully_described(api: httpx.AsyncClient) -> None:
    schema = (await api.get("/api/v1/openapi.json")).json()
    operation_ids = []
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            if method not in METHODS:
                continue
            where = f"{method.upper()} {path}"
            operation_ids.append(operation["operationId"])
            assert operation.get("summary"), where
            assert operation.get("tags"), where
            assert re.fullmatch(r"[a-z][a-z0-9_]*", operation["operationId"]), where
            error = operation["responses"]["500"]["content"]["application/problem+json"]
            assert error["schema"] == {"$ref": "#/components/schemas/Problem"}, where
            if "422" in operation["responses"]:
                assert "application/problem+json" in operation["responses"]["422"]["content"]
    assert len(operation_ids) == len(set(operation_ids)), "operationIds must be unique"
    components = schema["components"]["schemas"]
    assert "Problem" in components
    assert "HTTPValidationError" not in components


async def test_ready_declares_its_503(api: httpx.AsyncClient) -> None:
    schema = (await api.get("/api/v1/openapi.json")).json()
    responses = schema["paths"]["/health/ready"]["get"]["responses"]
    assert "health.not_ready" in responses["503"]["description"]


async def test_docs_are_served_without_cdn(api: httpx.AsyncClient) -> None:
    for page in ("/docs", "/redoc"):
        html = (await api.get(page)).text
        assets = re.findall(r'(?:src|href)="([^"]+)"', html)
        assert assets, page
        for asset in assets:
            assert not asset.startswith(("http://", "https://", "//")), asset
            assert (await api.get(asset)).status_code == 200, asset


async def test_api_info(api: httpx.AsyncClient) -> None:
    info = (await api.get("/api/v1")).json()
    assert info["name"] == "ProdLens"
    assert info["docs_url"] == "/docs"
    assert info["openapi_url"] == "/api/v1/openapi.json"


async def test_public_config_holds_no_secrets(api: httpx.AsyncClient) -> None:
    config = (await api.get("/api/v1/config")).json()
    assert config["environment"] == "development"
    assert config["limits"]["max_page_size"] == 100
    text = str(config).lower()
    assert "secret" not in text
    assert "sqlite" not in text
    assert "database" not in text


async def test_docs_disabled_in_production(make_sqlite_settings: SettingsFactory) -> None:
    production = {"env": "production", "secret_key": "s" * 40, "allow_sqlite_in_production": True}
    async with serving(create_app(make_sqlite_settings(**production))) as client:
        for path in ("/docs", "/redoc", "/api/v1/openapi.json"):
            assert (await client.get(path)).status_code == 404, path
        assert (await client.get("/api/v1")).json()["docs_url"] is None
    enabled = make_sqlite_settings(**production, docs_enabled=True)
    async with serving(create_app(enabled)) as client:
        assert (await client.get("/docs")).status_code == 200


async def test_middleware_answers_are_declared(api: httpx.AsyncClient) -> None:
    schema = (await api.get("/api/v1/openapi.json")).json()
    login = schema["paths"]["/api/v1/auth/login"]["post"]["responses"]
    assert {"413", "429", "503"} <= login.keys()
    assert "429" not in schema["paths"]["/health"]["get"]["responses"]
