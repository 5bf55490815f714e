"""Rate-limit policies as a client sees them: headers, 429 problems, per-route rules."""

from __future__ import annotations

from tests.conftest import HarnessFactory

RATE_HEADERS = ("x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset")
# Limits that count exactly are per day: the sliding window weighs the previous window's
# hits and rounds down, so a test crossing a window's boundary could be forgiven a hit.


async def test_general_limit_with_headers(make_harness: HarnessFactory) -> None:
    async with make_harness(rate_limits={"general": "3/day"}) as h:
        responses = [await h.client.get("/api/v1/config") for _ in range(4)]
    first = responses[0]
    assert all(name in first.headers for name in RATE_HEADERS)
    assert first.headers["x-ratelimit-limit"] == "3"
    assert [r.headers["x-ratelimit-remaining"] for r in responses[:3]] == ["2", "1", "0"]
    refused = responses[3]
    assert refused.status_code == 429
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["code"] == "rate_limit.exceeded"
    assert int(refused.headers["retry-after"]) >= 1
    assert "general" in refused.json()["detail"]


async def test_health_and_metrics_are_not_limited(make_harness: HarnessFactory) -> None:
    async with make_harness(rate_limits={"general": "1/minute"}) as h:
        for _ in range(3):
            assert (await h.client.get("/health")).status_code == 200
            assert (await h.client.get("/metrics")).status_code == 200


async def test_login_limited_per_ip(make_harness: HarnessFactory) -> None:
    async with make_harness(rate_limits={"login_ip": "10/day"}) as h:
        statuses = [(await h.login(f"nobody{i}", "wrong-password")).status_code for i in range(11)]
    assert statuses[:10] == [401] * 10
    assert statuses[10] == 429


async def test_login_limited_per_identifier(make_harness: HarnessFactory) -> None:
    overrides = {
        "rate_limits": {"login_identifier": "3/day"},
        "auth": {"lockout_threshold": 50},
    }
    async with make_harness(**overrides) as h:
        statuses = [(await h.login("Target", "wrong-password")).status_code for _ in range(3)]
        statuses.append((await h.login("target", "wrong-password")).status_code)  # same, any case
        other = await h.login("someone-else", "wrong-password")
    assert statuses == [401, 401, 401, 429]
    assert other.status_code == 401


async def test_register_and_reset_limits(make_harness: HarnessFactory) -> None:
    overrides = {"rate_limits": {"registration": "2/day", "password_reset": "2/day"}}
    async with make_harness(**overrides) as h:
        registrations = [(await h.register(f"user{i}")).status_code for i in range(3)]
        resets = [
            (
                await h.client.post(
                    "/api/v1/auth/password-reset", json={"email": f"x{i}@example.com"}
                )
            ).status_code
            for i in range(3)
        ]
    assert registrations == [201, 201, 429]
    assert resets == [202, 202, 429]


async def test_limits_can_be_switched_off(make_harness: HarnessFactory) -> None:
    async with make_harness(rate_limits={"enabled": False, "general": "1/minute"}) as h:
        statuses = {(await h.client.get("/api/v1/config")).status_code for _ in range(3)}
    assert statuses == {200}


async def test_authenticated_clients_are_counted_per_user(make_harness: HarnessFactory) -> None:
    async with make_harness(rate_limits={"general": "4/day"}) as h:
        ada = await h.signup("ada")  # register + login use 2 of the address's budget
        me = [await h.client.get("/api/v1/auth/me", headers=ada.headers) for _ in range(4)]
        anonymous = await h.client.get("/api/v1/config")
    assert [r.status_code for r in me] == [200, 200, 200, 200]
    assert anonymous.status_code == 200  # the address still has budget left
