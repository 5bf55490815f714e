"""S14: IP-based limits cannot be dodged with forged forwarding headers."""

from __future__ import annotations

from tests.conftest import HarnessFactory
from tests.harness import Harness


# Per day: the sliding window weighs the previous window's hits and rounds down, so a
# test crossing a minute boundary could be forgiven a hit.
async def _login_statuses(h: Harness, header: str) -> list[int]:
    statuses = []
    for i in range(11):
        response = await h.client.post(
            "/api/v1/auth/login",
            json={"username": f"nobody{i}", "password": "wrong-password"},
            headers={
                header: f"198.51.100.{i}" if header == "X-Forwarded-For" else f"for=198.51.100.{i}"
            },
        )
        statuses.append(response.status_code)
    return statuses


async def test_s14_spoofed_forwarded_for_does_not_bypass_ip_limits(
    make_harness: HarnessFactory,
) -> None:
    async with make_harness(rate_limits={"login_ip": "10/day"}) as h:
        assert (await _login_statuses(h, "X-Forwarded-For"))[10] == 429
    async with make_harness(rate_limits={"login_ip": "10/day"}) as h:
        assert (await _login_statuses(h, "Forwarded"))[10] == 429


async def test_s14_trusted_proxy_forwarding_is_honoured(make_harness: HarnessFactory) -> None:
    """The control: behind a configured proxy, each forwarded client has its own budget."""
    overrides = {"rate_limits": {"login_ip": "10/day"}, "http": {"trusted_proxies": "127.0.0.1"}}
    async with make_harness(**overrides) as h:
        assert 429 not in await _login_statuses(h, "X-Forwarded-For")
