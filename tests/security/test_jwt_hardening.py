"""Tokens signed with the app's own key but naming what it never issues: another user's
session, time claims that are no numbers or no sane times. All 401, never 200 or 5xx.

Minting these needs the signing key; the checks are the second line, should it leak.
"""

from __future__ import annotations

from typing import Any

import jwt

from tests.harness import Harness
from tests.security.test_jwt import claims_of, forge, hs256_key, ring, status_of


def mint(h: Harness, claims: dict[str, Any]) -> str:
    return jwt.encode(claims, hs256_key(h), algorithm="HS256", headers={"kid": ring(h).active_kid})


async def test_s29_a_session_of_another_user_is_refused(harness: Harness) -> None:
    ada = await harness.signup("ada")
    grace = await harness.signup("grace")
    ada_claims, grace_claims = claims_of(ada.access_token), claims_of(grace.access_token)
    borrowed = mint(harness, {**ada_claims, "sid": grace_claims["sid"]})

    # Before anything is cached about grace's session (the database answers) ...
    assert await status_of(harness, borrowed) == 401
    # ... and after her own token has been seen (the store answers).
    assert await status_of(harness, grace.access_token) == 200
    assert await status_of(harness, borrowed) == 401
    # The control: the same minting with ada's own session is accepted.
    assert await status_of(harness, mint(harness, ada_claims)) == 200
    # A session id that is no session at all.
    unknown = mint(harness, {**ada_claims, "sid": "00000000-0000-4000-8000-000000000000"})
    assert await status_of(harness, unknown) == 401


async def test_s29_time_claims_must_be_sane_numbers(harness: Harness) -> None:
    ada = await harness.signup("ada")
    base = claims_of(ada.access_token)
    now = int(harness.clock.now().timestamp())
    assert await status_of(harness, mint(harness, base)) == 200
    assert await status_of(harness, mint(harness, {**base, "exp": float(base["exp"])})) == 200

    cases: dict[str, dict[str, Any]] = {
        "exp as a string": {"exp": str(base["exp"])},
        "exp 10^20": {"exp": 10**20},
        "exp 1e20 (float)": {"exp": 1e20},
        "exp a year away": {"exp": now + 365 * 86400},
        "iat as a string": {"iat": str(base["iat"])},
        "nbf as a string": {"nbf": str(base["nbf"])},
        "nbf true": {"nbf": True},
        "iat null": {"iat": None},
        "iat long before exp": {"iat": 0, "nbf": 0},
        "exp as a list": {"exp": [base["exp"]]},
        "sub no id": {"sub": "someone"},
        "sid no id": {"sid": "x\u0000y"},
    }
    for name, changes in cases.items():
        assert await status_of(harness, mint(harness, {**base, **changes})) == 401, name

    # JSON numbers that are no numbers at all (Python's json writes and reads them).
    header = {"alg": "HS256", "kid": ring(harness).active_kid}
    for value in (float("inf"), float("-inf"), float("nan")):
        for name in ("exp", "iat", "nbf"):
            token = forge(header, {**base, name: value}, hs256_key(harness))
            assert await status_of(harness, token) == 401, (name, value)
