"""Who is calling: the client address, through trusted proxies only.

`X-Forwarded-For` and `Forwarded` are believed only when the socket peer is a
configured trusted proxy; then the chain is walked from the right, past the
trusted hops, to the first address we did not put there ourselves.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Sequence

from fastapi import Request
from starlette.datastructures import Headers
from starlette.types import Scope

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
_FORWARDED_FOR = re.compile(r'for="?\[?([^\]";,]+)', re.IGNORECASE)


def parse_networks(entries: Sequence[str]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(entry, strict=False) for entry in entries)


def _address(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    value = value.strip()
    if value.count(":") == 1:  # "1.2.3.4:5678"
        value = value.split(":", 1)[0]
    try:
        return ipaddress.ip_address(value)
    except ValueError:
        return None


def _trusted(value: str, networks: tuple[Network, ...]) -> bool:
    address = _address(value)
    return address is not None and any(address in network for network in networks)


def _forwarded_chain(headers: Headers) -> list[str]:
    forwarded = headers.get("forwarded")
    if forwarded:
        return _FORWARDED_FOR.findall(forwarded)
    return [hop.strip() for hop in headers.get("x-forwarded-for", "").split(",") if hop.strip()]


def resolve_client_ip(
    peer: str | None, headers: Headers, trusted: tuple[Network, ...]
) -> str | None:
    if peer is None or not trusted or not _trusted(peer, trusted):
        return peer
    chain = _forwarded_chain(headers)
    for hop in reversed(chain):
        if not _trusted(hop, trusted):
            address = _address(hop)
            return str(address) if address else peer
    return peer


def scope_client_ip(scope: Scope) -> str | None:
    client = scope.get("client")
    peer = client[0] if client else None
    trusted: tuple[Network, ...] = getattr(scope["app"].state, "trusted_proxies", ())
    return resolve_client_ip(peer, Headers(scope=scope), trusted)


def client_ip(request: Request) -> str | None:
    return scope_client_ip(request.scope)
