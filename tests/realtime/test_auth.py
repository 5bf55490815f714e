"""Who may open a socket and follow a project (SPEC §7): tokens, keys, cookies, members."""

from __future__ import annotations

import pytest

from prodlens.realtime.protocol import CloseCode
from tests.analytics.helpers import analytics_project
from tests.realtime.conftest import Live, LiveFactory, closed_with, receive, send, subscribed


async def test_first_message_auth_then_subscribe(live: Live) -> None:
    project = await analytics_project(live)
    async with live.connect() as ws:
        await send(ws, type="auth", token=project.owner.access_token)
        assert (await receive(ws, "welcome"))["max_subscriptions"] == 50
        await send(ws, type="subscribe", project=project.project_id)
        answer = await receive(ws, "subscribed", "error")
        assert answer["type"] == "subscribed"
        assert answer["project"]["id"] == project.project_id


async def test_no_credentials_in_time_is_closed_unauthenticated(make_live: LiveFactory) -> None:
    async with make_live(realtime={"auth_seconds": 0.5}) as live, live.connect() as ws:
        code, bye = await closed_with(ws)
    assert code == CloseCode.UNAUTHENTICATED
    assert bye is not None
    assert bye["code"] == 4401


@pytest.mark.parametrize("token", ["not-a-token", "pl_deadbeef_nope"])
async def test_bad_token_is_closed_unauthenticated(live: Live, token: str) -> None:
    async with live.connect(token) as ws:
        code, _ = await closed_with(ws)
    assert code == CloseCode.UNAUTHENTICATED


async def test_a_read_key_follows_its_own_project_only(live: Live) -> None:
    project = await analytics_project(live)
    other = await live.signup("other")
    foreign = await live.client.post(
        "/api/v1/projects", json={"name": "Elsewhere"}, headers=other.headers
    )
    async with live.connect(project.read_key) as ws:
        await subscribed(ws, project.project_id)
        await send(ws, type="subscribe", project=foreign.json()["id"], ref="x")
        refused = await receive(ws, "error")
        assert (refused["code"], refused["ref"]) == ("projects.not_found", "x")
    async with live.connect(project.ingest_key) as ws:
        await receive(ws, "welcome")
        await send(ws, type="subscribe", project=project.project_id)
        assert (await receive(ws, "error"))["code"] == "api_keys.scope_missing"


async def test_non_member_is_refused_like_a_missing_project(live: Live) -> None:
    project = await analytics_project(live)
    stranger = await live.signup("stranger")
    async with live.connect(stranger.access_token) as ws:
        await receive(ws, "welcome")
        for reference in (project.project_id, "copilot-pilot", "no-such-project"):
            await send(ws, type="subscribe", project=reference)
            assert (await receive(ws, "error", "subscribed"))["code"] == "projects.not_found"


async def test_cookie_needs_an_allowed_origin(live: Live) -> None:
    assert (await live.register("ada")).status_code == 201
    login = await live.login("ada", use_cookies=True)
    assert login.status_code == 200
    cookie = "; ".join(f"{name}={value}" for name, value in live.client.cookies.items())
    same_site = live.client.base_url.join("/").__str__().rstrip("/")
    async with live.connect(additional_headers={"Cookie": cookie, "Origin": same_site}) as ws:
        await receive(ws, "welcome")
    foreign = {"Cookie": cookie, "Origin": "https://evil.example"}
    async with live.connect(additional_headers=foreign) as ws:
        code, bye = await closed_with(ws)
    assert code == CloseCode.FORBIDDEN
    assert bye is not None
    assert "site" in bye["detail"]
