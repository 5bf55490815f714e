"""Client mistakes and limits: an `error` message or a close with its code, never a crash
and never a traceback in the server's log."""

from __future__ import annotations

import json

import pytest

from prodlens.realtime.protocol import CloseCode
from tests.analytics.helpers import analytics_project
from tests.realtime.conftest import Live, LiveFactory, closed_with, receive, send, subscribed


async def test_bad_messages_get_errors_and_the_socket_lives_on(
    live: Live, capfd: pytest.CaptureFixture[str]
) -> None:
    project = await analytics_project(live)
    async with live.connect(project.owner.access_token) as ws:
        await receive(ws, "welcome")
        await ws.send("not json")
        assert (await receive(ws, "error"))["code"] == "realtime.invalid_json"
        await ws.send("[1, 2]")
        assert (await receive(ws, "error"))["code"] == "realtime.invalid_json"
        await ws.send(b"\x00\x01")
        assert (await receive(ws, "error"))["code"] == "realtime.invalid_json"
        await send(ws, type="shout", ref="r1")
        unknown = await receive(ws, "error")
        assert (unknown["code"], unknown["ref"]) == ("realtime.unknown_type", "r1")
        await send(ws, type="subscribe")
        assert (await receive(ws, "error"))["code"] == "realtime.invalid_message"
        await send(ws, type="subscribe", project=["a"])
        assert (await receive(ws, "error"))["code"] == "realtime.invalid_message"
        await send(ws, type="unsubscribe", project=project.project_id)
        assert (await receive(ws, "error"))["code"] == "realtime.not_subscribed"
        await send(ws, type="auth", token="again")
        assert (await receive(ws, "error"))["code"] == "realtime.already_authenticated"
        await send(ws, type="ping", ref=3)
        assert (await receive(ws, "pong"))["ref"] == 3
    assert "Traceback" not in capfd.readouterr().err


async def test_hostile_messages_are_refused_without_a_crash(
    live: Live, capfd: pytest.CaptureFixture[str]
) -> None:
    """Nesting deep enough to exhaust the parser's stack, and text no database can
    store (NUL reaches PostgreSQL's text as an error), are mistakes like any other."""
    project = await analytics_project(live)
    async with live.connect(project.owner.access_token) as ws:
        await receive(ws, "welcome")
        await ws.send('{"type": "ping", "x": ' + "[" * 5000 + "]" * 5000 + "}")
        deep = await receive(ws, "error")
        assert deep["code"] == "realtime.invalid_json"
        assert "64 levels" in deep["detail"]
        await send(ws, type="subscribe", project=project.project_id[:8] + "\x00", ref="n")
        nul = await receive(ws, "error")
        assert (nul["code"], nul["ref"]) == ("realtime.invalid_message", "n")
        await send(ws, type="subscribe", project="\ud800", ref="s")
        assert (await receive(ws, "error"))["code"] == "realtime.invalid_message"
        await send(ws, type="ping", ref=1)
        assert (await receive(ws, "pong"))["ref"] == 1
    # Credentials in the first message, holding NUL: refused as unauthenticated.
    async with live.connect() as ws:
        await send(ws, type="auth", token="pl_\x00" + "a" * 40)
        code, _ = await closed_with(ws)
    assert code == CloseCode.UNAUTHENTICATED
    assert "Traceback" not in capfd.readouterr().err


async def test_oversized_message_closes_with_its_code(make_live: LiveFactory) -> None:
    async with make_live(realtime={"max_message_bytes": 1024}) as live:
        owner = await live.signup("ada")
        async with live.connect(owner.access_token) as ws:
            await receive(ws, "welcome")
            await send(ws, type="ping", padding="x" * 2000)
            code, bye = await closed_with(ws)
    assert code == CloseCode.MESSAGE_TOO_BIG
    assert bye is not None
    assert bye["code"] == 4413


async def test_message_flood_closes_with_too_many(make_live: LiveFactory) -> None:
    async with make_live(realtime={"messages_per_minute": 10}) as live:
        project = await analytics_project(live)
        async with live.connect(project.owner.access_token) as ws:
            await receive(ws, "welcome")
            for _ in range(30):
                await send(ws, type="subscribe", project=project.project_id)
            code, _ = await closed_with(ws)
    assert code == CloseCode.TOO_MANY


async def test_repeated_mistakes_close_as_protocol_error(live: Live) -> None:
    owner = await live.signup("ada")
    async with live.connect(owner.access_token) as ws:
        await receive(ws, "welcome")
        for _ in range(25):
            await ws.send("{")
        code, _ = await closed_with(ws)
    assert code == CloseCode.PROTOCOL_ERROR


async def test_subscriptions_per_socket_are_limited(make_live: LiveFactory) -> None:
    async with make_live(realtime={"max_subscriptions": 1}) as live:
        owner = await live.signup("ada")
        ids = []
        for name in ("One", "Two"):
            created = await live.client.post(
                "/api/v1/projects", json={"name": name}, headers=owner.headers
            )
            ids.append(created.json()["id"])
        async with live.connect(owner.access_token) as ws:
            await subscribed(ws, ids[0])
            await send(ws, type="subscribe", project=ids[0])  # already followed: fine
            assert (await receive(ws, "subscribed", "error"))["type"] == "subscribed"
            await send(ws, type="subscribe", project=ids[1])
            refused = await receive(ws, "subscribed", "error")
            assert refused["code"] == "realtime.too_many_subscriptions"


async def test_connections_per_user_and_per_ip_are_limited(make_live: LiveFactory) -> None:
    limits = {"max_connections_per_user": 2, "max_connections_per_ip": 3}
    async with make_live(realtime=limits) as live:
        ada = await live.signup("ada")
        bob = await live.signup("bob")
        async with (
            live.connect(ada.access_token) as first,
            live.connect(ada.access_token) as second,
        ):
            await receive(first, "welcome")
            await receive(second, "welcome")
            async with live.connect(ada.access_token) as third:
                code, bye = await closed_with(third)
            assert code == CloseCode.TOO_MANY
            assert bye is not None
            async with live.connect(bob.access_token) as bobs:
                await receive(bobs, "welcome")
                async with live.connect(bob.access_token) as fourth_from_ip:
                    code, _ = await closed_with(fourth_from_ip)
                assert code == CloseCode.TOO_MANY
        # Closed sockets give their places back.
        async with live.connect(ada.access_token) as again:
            await receive(again, "welcome")


async def test_silent_client_is_closed_as_idle(make_live: LiveFactory) -> None:
    async with make_live(realtime={"ping_seconds": 0.2, "idle_seconds": 0.6}) as live:
        owner = await live.signup("ada")
        async with live.connect(owner.access_token) as ws:
            pings = 0
            code = None
            try:
                while True:
                    message = json.loads(await ws.recv())
                    pings += message["type"] == "ping"
            except Exception:
                code = ws.close_code
    assert pings >= 1
    assert code == CloseCode.IDLE


async def test_answering_pings_keeps_a_socket_open(make_live: LiveFactory) -> None:
    async with make_live(realtime={"ping_seconds": 0.2, "idle_seconds": 0.6}) as live:
        owner = await live.signup("ada")
        async with live.connect(owner.access_token) as ws:
            for _ in range(8):  # 8 pings: well past the idle time
                await receive(ws, "ping")
                await send(ws, type="pong")
            await send(ws, type="ping", ref="alive")
            assert (await receive(ws, "pong"))["ref"] == "alive"
