from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import Any

import httpx

from prodlens.app import create_app
from tests.conftest import SettingsFactory, harness_for, serving
from tests.harness import Account, Harness

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


# --- what generators need: plain unique names, closed bodies, honest security ----------------


async def test_schema_names_are_plain_and_unique(api: httpx.AsyncClient) -> None:
    """Two classes of one name make FastAPI fall back to module paths
    (`prodlens__auth__schemas__SessionPublic`), which generators mangle or drop."""
    components = (await api.get("/api/v1/openapi.json")).json()["components"]["schemas"]
    for name, schema in components.items():
        assert re.fullmatch(r"[A-Z][A-Za-z0-9]*(_[A-Z][A-Za-z0-9]*_)?", name), name
        assert "__" not in name, name
        assert "prodlens" not in name.lower(), name
        assert "." not in schema.get("title", ""), name
    titles = [schema.get("title", name) for name, schema in components.items()]
    assert len(titles) == len(set(titles)), sorted(t for t in titles if titles.count(t) > 1)
    # The two kinds of session say which they are.
    assert {"SignInSessionPublic", "LlmSessionPublic", "LlmSessionDetail"} <= components.keys()


def _resolve(schema: dict[str, Any], components: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = components[schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def _alternatives(schema: dict[str, Any], components: dict[str, Any]) -> list[dict[str, Any]]:
    """The object shapes a body may take: through oneOf/anyOf and array items."""
    schema = _resolve(schema, components)
    if "oneOf" in schema or "anyOf" in schema:
        return [
            shape
            for option in schema.get("oneOf") or schema["anyOf"]
            for shape in _alternatives(option, components)
        ]
    if schema.get("type") == "array":
        return _alternatives(schema["items"], components)
    if schema.get("type") == "null":
        return []
    return [schema]


# Other tools' payloads, which the server reads leniently: open, and declared so.
OPEN_BODIES = re.compile(r".*/ingest/(litellm|copilot|otlp/v1/\w+)")
GITHUB_WEBHOOK = "/api/v1/integrations/github/webhook"  # GitHub's payload, as GitHub sends it


async def test_request_bodies_are_closed(api: httpx.AsyncClient) -> None:
    schema = (await api.get("/api/v1/openapi.json")).json()
    components = schema["components"]["schemas"]
    checked = 0
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            body = operation.get("requestBody")
            if method not in METHODS or body is None:
                continue
            # One media type per body: generators mishandle several (see openapi.py).
            assert len(body["content"]) == 1, f"{method.upper()} {path}"
            if path == GITHUB_WEBHOOK:
                continue
            for media_type, content in body["content"].items():
                if media_type != "application/json":
                    continue  # protobuf is bytes; the OAuth2 form may carry `scope` and more
                for shape in _alternatives(content["schema"], components):
                    where = f"{method.upper()} {path} {media_type}: {shape.get('title')}"
                    assert shape.get("type") == "object", where
                    expected = OPEN_BODIES.fullmatch(path) is not None
                    assert shape.get("additionalProperties") is expected, where
                    if expected:
                        assert "open" in shape["description"], where
                    checked += 1
    assert checked > 30

    # Every alternative of the native ingest body is closed and says what it needs.
    native = schema["paths"]["/api/v1/ingest/events"]["post"]["requestBody"]["content"]
    shapes = _alternatives(native["application/json"]["schema"], components)
    assert [shape["title"] for shape in shapes] == ["EventIn", "EventBatch", "EventIn"]
    for shape in shapes:
        assert shape["required"], shape["title"]
        assert shape["additionalProperties"] is False, shape["title"]
    assert components["EventBatch"]["required"] == ["events"]


async def test_native_ingest_body_in_the_document_is_what_the_server_takes(
    make_sqlite_settings: SettingsFactory,
) -> None:
    """Each documented alternative is accepted as shown; the closed envelope is no fiction
    for the events inside it (an unknown field is refused per item)."""
    async with harness_for(make_sqlite_settings()) as h:
        world = await _World.create(h)
        event: dict[str, Any] = {"started_at": "2026-01-05T10:00:00Z", "input_tokens": 3}
        url = "/api/v1/ingest/events"
        headers = {"X-API-Key": world.key}
        bodies: list[Any] = [[{**event, "event_id": "a"}], {"events": [{**event, "event_id": "b"}]}]
        for body in (*bodies, {**event, "event_id": "c"}):
            answer = await h.client.post(url, json=body, headers=headers)
            assert answer.json()["summary"]["accepted"] == 1, answer.text
        typo = await h.client.post(
            url, json={"events": [{**event, "input_token": 3}]}, headers=headers
        )
        assert typo.json()["summary"]["accepted"] == 0, typo.text
        # ... and for the envelope itself: a field beside `events` is refused, not ignored.
        beside = await h.client.post(
            url, json={"events": [{**event, "event_id": "d"}], "evnts": []}, headers=headers
        )
        assert beside.status_code == 422, beside.text
        assert beside.json()["code"] == "ingest.invalid_batch"
        assert "evnts" in beside.json()["detail"]


# --- security: what each operation declares is what it accepts --------------------------------

CREDENTIAL_KINDS = ("bearer", "cookie", "api_key", "api_key_bearer")
REFUSED = {401, 403}
PROBE_BODY = {"__probe__": True}  # refused by every closed body: nothing is changed


@dataclass
class _World:
    """An admin who owns a project, signed in both ways, and a key with every scope."""

    harness: Harness
    project_id: str
    key: str
    access_token: str
    cookies: dict[str, str]
    csrf_token: str

    @classmethod
    async def create(cls, harness: Harness, account: Account | None = None) -> _World:
        client = harness.client
        if account is None:
            account = await harness.signup("owner")
            await harness.make_admin(account)
        else:
            await harness.sign_in(account)
        client.cookies.clear()
        cookie_login = await harness.login(account.username, use_cookies=True)
        assert cookie_login.status_code == 200, cookie_login.text
        cookies = dict(cookie_login.cookies)
        client.cookies.clear()  # each request names its credential itself
        bearer = {"Authorization": f"Bearer {account.access_token}"}
        project = await client.post(
            "/api/v1/projects", json={"name": f"p-{uuid.uuid4().hex[:8]}"}, headers=bearer
        )
        assert project.status_code == 201, project.text
        project_id = project.json()["id"]
        key = await client.post(
            f"/api/v1/projects/{project_id}/api-keys",
            json={"name": "probe", "scopes": ["ingest", "read"]},
            headers=bearer,
        )
        assert key.status_code == 201, key.text
        world = cls(
            harness,
            project_id,
            key.json()["key"],
            account.access_token,
            cookies,
            cookie_login.json()["csrf_token"],
        )
        world.account = account
        return world

    account: Account | None = None

    def headers(self, kind: str | None, method: str) -> tuple[dict[str, str], dict[str, str]]:
        """(headers, cookies) carrying only the credential `kind`."""
        if kind == "bearer":
            return {"Authorization": f"Bearer {self.access_token}"}, {}
        if kind == "cookie":
            csrf = {} if method in {"get", "head"} else {"X-CSRF-Token": self.csrf_token}
            return csrf, self.cookies
        if kind == "api_key":
            return {"X-API-Key": self.key}, {}
        if kind == "api_key_bearer":
            return {"Authorization": f"Bearer {self.key}"}, {}
        return {}, {}


def _declared(operation: dict[str, Any]) -> set[str]:
    return {name for requirement in operation.get("security", []) for name in requirement}


def _url(path: str, project_id: str) -> str:
    return re.sub(
        r"\{(\w+)\}", lambda m: project_id if m[1] == "project_id" else "no-such-thing", path
    )


async def _send(world: _World, method: str, path: str, has_body: bool, kind: str | None) -> int:
    client = world.harness.client
    headers, cookies = world.headers(kind, method)
    client.cookies.clear()
    for name, value in cookies.items():
        client.cookies.set(name, value)
    try:
        answer = await client.request(
            method.upper(),
            _url(path, world.project_id),
            headers=headers,
            json=PROBE_BODY if has_body else None,
        )
    finally:
        client.cookies.clear()
    return answer.status_code


async def test_declared_security_is_what_each_operation_accepts(
    make_sqlite_settings: SettingsFactory,
) -> None:
    """Send every operation each credential alone: a declared scheme gets past
    authentication, an undeclared one is refused (401/403), a public operation needs none."""
    async with harness_for(make_sqlite_settings(rate_limits={"enabled": False})) as h:
        document = (await h.client.get("/api/v1/openapi.json")).json()
        schemes = document["components"]["securitySchemes"]
        assert set(schemes) == set(CREDENTIAL_KINDS)
        assert schemes["api_key_bearer"] == {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "pl_…",
            "description": schemes["api_key_bearer"]["description"],
        }
        world = await _World.create(h)
        mismatches: list[str] = []
        seen: dict[str, set[str]] = {}
        for path, item in document["paths"].items():
            for method, operation in item.items():
                if method not in METHODS:
                    continue
                declared = _declared(operation)
                seen.setdefault(",".join(sorted(declared)), set()).add(path)
                has_body = "requestBody" in operation
                # Body-less writes (sign out, delete) act: each gets a world of its own.
                destructive = method != "get" and not has_body
                for kind in (None, *CREDENTIAL_KINDS):
                    if kind is None and not declared:
                        expect_refused = False
                    elif kind is None:
                        expect_refused = True
                    elif not declared:
                        continue  # public: any credential is simply not read
                    else:
                        expect_refused = kind not in declared
                    if destructive and kind is not None:
                        world = await _World.create(h, world.account)
                    status = await _send(world, method, path, has_body, kind)
                    if (status in REFUSED) != expect_refused:
                        mismatches.append(f"{method.upper()} {path} with {kind}: {status}")
        assert not mismatches, "\n".join(mismatches)
    # The classes of routes are all there: key-only, member-only, both, and public.
    key_only = "api_key,api_key_bearer"
    both = "api_key,api_key_bearer,bearer,cookie"
    assert {key_only, "bearer,cookie", both, ""} <= seen.keys()
    assert "/api/v1/ingest/events" in seen[key_only]
    assert "/api/v1/projects/{project_id}/ingest/events" in seen[both]
