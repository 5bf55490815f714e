"""API keys this worker has seen verified, so the general limit can count them per key.

The middleware runs before any route, and verifying a key means a database
lookup; doing it there for every request would put that lookup in front of the
limit that is meant to shed load. Instead the route that authenticates a key
tells this cache, and from the next request on the middleware counts the key
against its own budget. Keys are held by their SHA-256 (as stored), never in
clear; entries expire and the cache is bounded, so it holds at most the real
keys recently used on this worker whatever is sent to it.
"""

from __future__ import annotations

import time
from collections import OrderedDict

from prodlens.kit.secrets import hash_secret

# Long enough that a busy key is looked up once in a while, short enough that a
# revoked key is not counted as a key (rather than as its address) for long.
TTL_SECONDS = 300.0
MAX_ENTRIES = 10_000


class VerifiedKeys:
    def __init__(self, *, ttl: float = TTL_SECONDS, max_entries: int = MAX_ENTRIES) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self._entries: OrderedDict[str, tuple[str, float]] = OrderedDict()  # hash -> id, until

    def key_id(self, presented: str) -> str | None:
        """The id of the key, if this exact secret was verified lately."""
        digest = hash_secret(presented)
        entry = self._entries.get(digest)
        if entry is None:
            return None
        key_id, until = entry
        if until <= time.monotonic():
            del self._entries[digest]
            return None
        return key_id

    def remember(self, presented: str, key_id: str) -> None:
        digest = hash_secret(presented)
        self._entries[digest] = (key_id, time.monotonic() + self.ttl)
        self._entries.move_to_end(digest)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    def forget(self, presented: str) -> None:
        self._entries.pop(hash_secret(presented), None)
