"""Browser mode: cookie attributes and CSRF defence (SECURITY.md S26, S27)."""

from __future__ import annotations

import httpx

from tests.conftest import HarnessFactory
from tests.harness import PASSWORD, Harness

ACCESS, REFRESH, CSRF = "prodlens_access", "prodlens_refresh", "prodlens_csrf"
EVIL = "https://evil.example"


def set_cookies(response: httpx.Response) -> dict[str, tuple[str, set[str]]]:
    """Each Set-Cookie as name -> (value, lower-cased attributes)."""
    cookies = {}
    for header in response.headers.get_list("set-cookie"):
        pair, *attributes = (part.strip() for part in header.split(";"))
        name, _, value = pair.partition("=")
        cookies[name] = (value, {attribute.lower() for attribute in attributes})
    return cookies


async def cookie_login(harness: Harness, username: str) -> httpx.Response:
    assert (await harness.register(username)).status_code == 201
    response = await harness.login(username, use_cookies=True)
    assert response.status_code == 200, response.text
    return response


def assert_no_token_exposed(
    response: httpx.Response, cookies: dict[str, tuple[str, set[str]]]
) -> None:
    """Cookie mode hands the tokens to the cookie jar only: not in the body, not in a URL."""
    assert set(response.json()) == {"token_type", "expires_in", "csrf_token"}
    assert "location" not in response.headers
    for name in (ACCESS, REFRESH):
        assert cookies[name][0] not in response.text


async def test_s26_cookie_attributes(harness: Harness, make_harness: HarnessFactory) -> None:
    login = await cookie_login(harness, "ada")
    cookies = set_cookies(login)
    for name in (ACCESS, REFRESH):
        _, attributes = cookies[name]
        assert {"httponly", "samesite=lax", "path=/"} <= attributes, name
        assert "secure" not in attributes  # development serves plain http
    # The CSRF cookie is meant to be read by the page's script, but is otherwise as strict.
    assert {"samesite=lax", "path=/"} <= cookies[CSRF][1]
    assert_no_token_exposed(login, cookies)

    renewed = await harness.client.post(
        "/api/v1/auth/refresh", headers={"X-CSRF-Token": login.json()["csrf_token"]}
    )
    assert renewed.status_code == 200, renewed.text
    renewed_cookies = set_cookies(renewed)
    assert renewed_cookies[ACCESS][0] != cookies[ACCESS][0]
    assert_no_token_exposed(renewed, renewed_cookies)
    # A token in the query string is not a credential.
    harness.client.cookies.clear()
    in_url = await harness.client.get(
        "/api/v1/auth/me", params={"access_token": renewed_cookies[ACCESS][0]}
    )
    assert in_url.status_code == 401

    async with make_harness(env="staging", secret_key="s" * 40) as staging:
        staged = set_cookies(await cookie_login(staging, "grace"))
        for name in (ACCESS, REFRESH):
            assert {"httponly", "secure", "samesite=lax", "path=/"} <= staged[name][1], name
        assert {"secure", "samesite=lax", "path=/"} <= staged[CSRF][1]


async def test_s27_csrf_on_cookie_auth(harness: Harness) -> None:
    # Mallory's own valid CSRF token, to toss into Ada's browser below.
    mallory_csrf = (await cookie_login(harness, "mallory")).json()["csrf_token"]
    harness.client.cookies.clear()
    login = await cookie_login(harness, "ada")
    csrf = login.json()["csrf_token"]
    access = set_cookies(login)[ACCESS][0]
    me = "/api/v1/auth/me"

    async def rename(name: str, headers: dict[str, str]) -> httpx.Response:
        return await harness.client.patch(me, json={"display_name": name}, headers=headers)

    def assert_rejected(response: httpx.Response) -> None:
        assert response.status_code == 403, response.text
        assert response.json()["code"] == "auth.csrf_failed"

    assert_rejected(await rename("No header", {}))
    assert_rejected(await rename("Foreign origin", {"X-CSRF-Token": csrf, "Origin": EVIL}))
    forged = csrf.partition(".")[0] + "." + "0" * 32
    assert_rejected(await rename("Forged token", {"X-CSRF-Token": forged}))
    # Matching cookie and header are not enough: the token is bound to its session.
    tossed = {"X-CSRF-Token": mallory_csrf, "Cookie": f"{ACCESS}={access}; {CSRF}={mallory_csrf}"}
    assert_rejected(await rename("Tossed token", tossed))
    assert_rejected(await harness.client.post("/api/v1/auth/refresh"))
    assert_rejected(await harness.client.post("/api/v1/auth/logout"))
    # None of the rejected requests had an effect.
    current = await harness.client.get(me)  # safe methods need no CSRF token
    assert current.status_code == 200
    assert current.json()["display_name"] == "Ada Lovelace"

    renamed = await rename("Ada", {"X-CSRF-Token": csrf})
    assert renamed.status_code == 200, renamed.text
    own_origin = await rename("Ada B", {"X-CSRF-Token": csrf, "Origin": "http://testserver"})
    assert own_origin.status_code == 200, own_origin.text
    assert own_origin.json()["display_name"] == "Ada B"

    # Signing in to cookie mode from a foreign page (login CSRF) is refused as well.
    foreign_login = await harness.client.post(
        "/api/v1/auth/login",
        json={"username": "ada", "password": PASSWORD, "use_cookies": True},
        headers={"Origin": EVIL},
    )
    assert_rejected(foreign_login)

    logout = await harness.client.post("/api/v1/auth/logout", headers={"X-CSRF-Token": csrf})
    assert logout.status_code == 204
