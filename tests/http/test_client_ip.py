from __future__ import annotations

import pytest
from starlette.datastructures import Headers

from prodlens.http.client_ip import parse_networks, resolve_client_ip

PROXIES = parse_networks(["10.0.0.0/8", "192.168.1.1"])


@pytest.mark.parametrize(
    ("peer", "headers", "expected"),
    [
        # Not from a trusted proxy: headers are ignored, whatever they say.
        ("203.0.113.9", {"x-forwarded-for": "1.2.3.4"}, "203.0.113.9"),
        ("203.0.113.9", {"forwarded": "for=1.2.3.4"}, "203.0.113.9"),
        # From a proxy: the right-most address that is not a proxy of ours.
        ("10.0.0.5", {"x-forwarded-for": "6.6.6.6, 198.51.100.7, 10.0.0.9"}, "198.51.100.7"),
        ("10.0.0.5", {"forwarded": 'for=198.51.100.7;proto=https, for="10.1.1.1"'}, "198.51.100.7"),
        ("10.0.0.5", {"forwarded": 'for="[2001:db8::1]:4711"'}, "2001:db8::1"),
        ("192.168.1.1", {"x-forwarded-for": "198.51.100.7:5123"}, "198.51.100.7"),
        # A proxy that forwards nothing (or garbage) is the client itself.
        ("10.0.0.5", {}, "10.0.0.5"),
        ("10.0.0.5", {"x-forwarded-for": "not-an-ip"}, "10.0.0.5"),
    ],
)
def test_resolve_client_ip(peer: str, headers: dict[str, str], expected: str) -> None:
    assert resolve_client_ip(peer, Headers(headers), PROXIES) == expected


def test_no_trusted_proxies_means_the_peer() -> None:
    assert resolve_client_ip("10.0.0.5", Headers({"x-forwarded-for": "1.2.3.4"}), ()) == "10.0.0.5"
