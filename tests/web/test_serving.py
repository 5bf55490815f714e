"""The dashboard is served by the API process: the page shell at every dashboard URL,
hashed assets cached for a year, the shell never cached, a same-origin CSP, and the
API's own paths keep their meaning."""

from __future__ import annotations

import re

import httpx
import pytest

from prodlens.http.security_headers import API_CSP, DASHBOARD_CSP
from prodlens.web.assets import ASSETS, INDEX

DASHBOARD_URLS = (
    "/",
    "/sign-in",
    "/register",
    "/forgot-password",
    "/reset-password",
    "/verify-email",
    "/projects",
    "/projects/0f6c/sessions/abc",
    "/admin/users",
)


def _asset_urls(html: str) -> list[str]:
    return re.findall(r'(?:src|href)="(/assets/[^"]+)"', html)


@pytest.mark.parametrize("url", DASHBOARD_URLS)
async def test_every_dashboard_url_answers_the_page_shell(api: httpx.AsyncClient, url: str) -> None:
    response = await api.get(url)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["cache-control"] == "no-cache"
    assert response.headers["content-security-policy"] == DASHBOARD_CSP
    assert response.text == INDEX.read_text()
    assert '<div id="app">' in response.text


def test_the_dashboard_csp_allows_our_origin_only() -> None:
    directives = dict(part.strip().split(" ", 1) for part in DASHBOARD_CSP.split(";"))
    assert directives["default-src"] == "'none'"
    assert directives["script-src"] == "'self'"  # no 'unsafe-inline', no other origin
    assert directives["connect-src"] == "'self'"
    assert "unsafe" not in DASHBOARD_CSP
    assert "http" not in DASHBOARD_CSP


async def test_the_shell_names_only_local_hashed_assets_that_are_served(
    api: httpx.AsyncClient,
) -> None:
    html = (await api.get("/")).text
    assert "<script>" not in html  # no inline script: the CSP would block it anyway
    urls = _asset_urls(html)
    assert any(url.endswith(".js") for url in urls)
    assert any(url.endswith(".css") for url in urls)
    for url in urls:
        asset = await api.get(url)
        assert asset.status_code == 200, url
        assert asset.headers["cache-control"] == "public, max-age=31536000, immutable"
        assert asset.content == (ASSETS / url.removeprefix("/assets/")).read_bytes()


async def test_assets_are_compressed(api: httpx.AsyncClient) -> None:
    script = next(url for url in _asset_urls((await api.get("/")).text) if url.endswith(".js"))
    response = await api.get(script, headers={"Accept-Encoding": "gzip"})
    assert response.headers["content-encoding"] == "gzip"


@pytest.mark.parametrize(
    "url", ["/assets/nope-12345678.js", "/assets/..%2Findex.html", "/assets/index.html"]
)
async def test_unknown_assets_are_a_404_problem(api: httpx.AsyncClient, url: str) -> None:
    response = await api.get(url)
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"


async def test_api_paths_keep_their_meaning(api: httpx.AsyncClient) -> None:
    unknown = await api.get("/api/v1/no-such-route")
    assert unknown.status_code == 404
    assert unknown.headers["content-type"] == "application/problem+json"
    assert unknown.headers["content-security-policy"] == API_CSP
    info = await api.get("/api/v1")
    assert info.json()["name"] == "ProdLens"
    assert info.headers["content-security-policy"] == API_CSP


async def test_head_on_the_shell(api: httpx.AsyncClient) -> None:
    response = await api.head("/projects")
    assert response.status_code == 200
    assert response.content == b""
