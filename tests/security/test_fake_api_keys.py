"""Made-up API keys do not dodge the general per-address limit, and cannot spend a real
key's budget; a real key keeps a budget of its own, whatever address sends it."""

from __future__ import annotations

import secrets
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx

from tests.conftest import HarnessFactory
from tests.harness import Account, Harness

GENERAL = 100
# Per day: the limiter's sliding window would forgive a request or two were the test to
# cross a minute boundary, while a day's window cannot move enough to change a count.
LIMITS = {"rate_limits": {"general": f"{GENERAL}/day"}}
# A route that takes project keys (X-API-Key or Bearer pl_…); any project id will do,
# the key is checked first.
KEY_ROUTE = "/api/v1/projects/{project_id}"
NO_SUCH_PROJECT = "0b0e5f4c-1111-4222-8333-944455556666"


def fake_key(prefix: str | None = None) -> str:
    return f"{prefix or 'pl_' + secrets.token_hex(4)}_{secrets.token_urlsafe(32)}"


@asynccontextmanager
async def client_from(h: Harness, address: str) -> AsyncIterator[httpx.AsyncClient]:
    """Another client of the same running app, connecting from `address`."""
    transport = httpx.ASGITransport(app=h.app, client=(address, 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


async def statuses(
    client: httpx.AsyncClient, headers: list[dict[str, str]], project_id: str = NO_SUCH_PROJECT
) -> list[int]:
    url = KEY_ROUTE.format(project_id=project_id)
    return [(await client.get(url, headers=h)).status_code for h in headers]


async def project_with_key(h: Harness, owner: Account) -> tuple[dict[str, Any], dict[str, Any]]:
    """A project of `owner`'s and a read key of it (the creation answer, with `key`)."""
    project = (
        await h.client.post("/api/v1/projects", json={"name": "Keys"}, headers=owner.headers)
    ).json()
    created = await h.client.post(
        f"/api/v1/projects/{project['id']}/api-keys",
        json={"name": "ci", "scopes": ["read"]},
        headers=owner.headers,
    )
    return project, created.json()


async def test_s14_fake_api_keys_count_against_their_address(
    make_harness: HarnessFactory,
) -> None:
    async with make_harness(**LIMITS) as h:
        for style in ("x-api-key", "bearer"):
            async with client_from(h, f"203.0.113.{1 if style == 'bearer' else 2}") as attacker:
                headers = [
                    {"X-API-Key": key}
                    if style == "x-api-key"
                    else {"Authorization": f"Bearer {key}"}
                    for key in (fake_key() for _ in range(150))
                ]
                seen = await statuses(attacker, headers)
            assert seen[:GENERAL] == [401] * GENERAL, (style, Counter(seen))
            assert seen[GENERAL:] == [429] * (150 - GENERAL), (style, Counter(seen))


async def test_s14_a_real_key_is_limited_per_key_and_not_starved_by_fakes(
    make_harness: HarnessFactory,
) -> None:
    async with make_harness(**LIMITS) as h:
        owner = await h.signup("ada")
        project, created = await project_with_key(h, owner)
        real = {"X-API-Key": created["key"]}

        # Someone elsewhere sprays fakes, some carrying the real key's (visible) prefix.
        async with client_from(h, "203.0.113.66") as attacker:
            fakes = [
                {"X-API-Key": fake_key(created["prefix"] if i % 2 else None)} for i in range(150)
            ]
            sprayed = await statuses(attacker, fakes, project["id"])
        assert sprayed[:GENERAL] == [401] * GENERAL
        assert set(sprayed[GENERAL:]) == {429}

        # The real key still has its whole budget. Its first request on this worker is
        # counted against its address (the key is unproven until the route checks it);
        # from then on, against the key.
        async with client_from(h, "198.51.100.7") as machine:
            used = await statuses(machine, [real] * (GENERAL + 1), project["id"])
            assert used == [200] * (GENERAL + 1)
            over = await machine.get(KEY_ROUTE.format(project_id=project["id"]), headers=real)
            assert over.status_code == 429
            assert "general" in over.json()["detail"]
        # Per key, not per address: the same key from elsewhere is out of budget too,
        # while that address itself is not.
        async with client_from(h, "192.0.2.44") as elsewhere:
            url = KEY_ROUTE.format(project_id=project["id"])
            assert (await elsewhere.get(url, headers=real)).status_code == 429
            assert (await elsewhere.get("/api/v1/config")).status_code == 200


async def test_s14_a_refused_key_counts_against_its_address_again(
    make_harness: HarnessFactory,
) -> None:
    async with make_harness(rate_limits={"general": "5/day"}) as h:
        owner = await h.signup("ada")
        project, created = await project_with_key(h, owner)
        url = KEY_ROUTE.format(project_id=project["id"])
        key = {"X-API-Key": created["key"]}
        async with client_from(h, "198.51.100.8") as machine:
            # The address pays for the first request, the key for the next two.
            assert await statuses(machine, [key] * 3, project["id"]) == [200, 200, 200]
            revoked = await h.client.delete(
                f"{url}/api-keys/{created['id']}", headers=owner.headers
            )
            assert revoked.status_code == 204
            seen = await statuses(machine, [key] * 6, project["id"])
        # Once refused, the key is forgotten: the next requests use the address's four
        # remaining (were it still counted as a key, its three would run out first).
        assert seen == [401, 401, 401, 401, 401, 429]
