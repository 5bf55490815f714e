"""What the server says about a path rather than a route: its methods, its other slash."""

from __future__ import annotations

import httpx
import pytest

from prodlens.app import create_app
from tests.conftest import SettingsFactory, serving

HTTP_METHODS = ("get", "head", "post", "put", "patch", "delete")


def _allow(value: str) -> set[str]:
    return {method.strip() for method in value.split(",")}


async def _documented_methods(api: httpx.AsyncClient, path: str) -> set[str]:
    document = (await api.get("/api/v1/openapi.json")).json()
    # The API's GET routes take no HEAD (FastAPI's routes answer the methods they list).
    return {method.upper() for method in document["paths"][path] if method in HTTP_METHODS} | {
        "OPTIONS"
    }


@pytest.mark.parametrize(
    ("template", "path"),
    [
        ("/api/v1/auth/me", "/api/v1/auth/me"),
        ("/api/v1/projects/{project_id}", "/api/v1/projects/0123456789abcdef"),
        ("/api/v1/projects", "/api/v1/projects"),
    ],
)
async def test_options_lists_every_method_of_the_path(
    api: httpx.AsyncClient, template: str, path: str
) -> None:
    expected = await _documented_methods(api, template)
    assert len(expected) > 2  # paths with several methods: the case that was wrong

    response = await api.options(path)

    assert response.status_code == 204
    assert _allow(response.headers["allow"]) == expected
    assert response.content == b""
    assert response.headers["x-correlation-id"]  # an answer like any other


async def test_a_wrong_method_is_405_with_the_full_allow(api: httpx.AsyncClient) -> None:
    expected = await _documented_methods(api, "/api/v1/auth/me")
    assert "PUT" not in expected

    response = await api.put("/api/v1/auth/me", json={})

    assert response.status_code == 405
    assert response.json()["code"] == "http.method_not_allowed"
    assert _allow(response.headers["allow"]) == expected


async def test_options_on_an_unknown_path_is_404(api: httpx.AsyncClient) -> None:
    response = await api.options("/api/v1/no-such-thing")
    assert response.status_code == 404
    assert response.json()["code"] == "http.not_found"


async def test_cors_preflight_still_answered_by_cors(
    make_sqlite_settings: SettingsFactory,
) -> None:
    settings = make_sqlite_settings(http={"cors_origins": "https://app.example"})
    async with serving(create_app(settings)) as client:
        preflight = await client.options(
            "/api/v1/auth/me",
            headers={"Origin": "https://app.example", "Access-Control-Request-Method": "PATCH"},
        )
        plain = await client.options("/api/v1/auth/me")
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == "https://app.example"
    assert "PATCH" in preflight.headers["access-control-allow-methods"]
    assert plain.status_code == 204
    assert "PATCH" in _allow(plain.headers["allow"])


@pytest.mark.parametrize(
    ("path", "location"),
    [
        ("/api/v1/projects/", "/api/v1/projects"),
        ("/api/v1/auth/me/?x=1&y=%2F", "/api/v1/auth/me?x=1&y=%2F"),
        ("/sign-in/", "/sign-in"),  # a dashboard page
    ],
)
async def test_slash_redirects_never_name_a_host(
    api: httpx.AsyncClient, path: str, location: str
) -> None:
    response = await api.get(path, headers={"Host": "attacker.example"})
    assert response.status_code == 307
    assert response.headers["location"] == location


async def test_a_slash_redirect_leads_to_the_page(api: httpx.AsyncClient) -> None:
    response = await api.get("/sign-in/", follow_redirects=True)
    assert response.status_code == 200
    assert str(response.url).endswith("/sign-in")
    assert response.headers["content-type"].startswith("text/html")


@pytest.mark.parametrize("path", ["//attacker.example/", "/api/v1/nothing-here/"])
async def test_no_redirect_where_no_route_is(api: httpx.AsyncClient, path: str) -> None:
    response = await api.get(f"{api.base_url}{path}")  # the path as it is, not a URL
    assert response.request.url.path == path
    assert response.status_code == 404
    assert "location" not in response.headers
