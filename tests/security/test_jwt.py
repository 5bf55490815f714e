"""Access-token JWTs: pinned algorithm, checked claims, safe `kid`, key rotation
(SECURITY.md S28-S30).

Attack tokens are assembled by hand (base64 + HMAC) so that nothing in a JWT
library can refuse to build them. Each test first shows that a hand-made token
with the real key *is* accepted, so every 401 below is about the one thing changed.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Callable
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)

from prodlens.auth.tokens import KeyRing
from tests.conftest import HarnessFactory
from tests.harness import Account, Harness

EVIL = "https://evil.example"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def forge(
    header: dict[str, Any],
    claims: dict[str, Any],
    key: bytes | None,
    digest: Callable[..., Any] = hashlib.sha256,
) -> str:
    """A compact JWS with an HMAC signature by `key` (no signature when None)."""
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims).encode())}"
    signature = b"" if key is None else hmac.new(key, signing_input.encode(), digest).digest()
    return f"{signing_input}.{b64(signature)}"


def claims_of(token: str) -> dict[str, Any]:
    claims: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
    return claims


def ring(harness: Harness) -> KeyRing:
    keys: KeyRing = harness.app.state.auth.keys
    return keys


def hs256_key(harness: Harness) -> bytes:
    """The app's real HS256 signing key (derived from the secret key by default)."""
    key: bytes = ring(harness)._signing_key
    return key


async def status_of(harness: Harness, token: str) -> int:
    response = await harness.client.get(
        "/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"}
    )
    if response.status_code == 401:
        assert response.json()["code"] == "auth.invalid_token"
    return response.status_code


def ed25519_pair() -> tuple[Ed25519PrivateKey, str, str]:
    private = Ed25519PrivateKey.generate()
    private_pem = private.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
    public_pem = private.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
    return private, private_pem.decode(), public_pem.decode()


def eddsa_settings(*keys: dict[str, str], active: str) -> dict[str, Any]:
    return {"jwt_algorithm": "EdDSA", "jwt_keys": list(keys), "jwt_active_kid": active}


async def test_s28_algorithm_pinned(harness: Harness, make_harness: HarnessFactory) -> None:
    account = await harness.signup("ada")
    claims = claims_of(account.access_token)
    key, kid = hs256_key(harness), ring(harness).active_kid
    assert await status_of(harness, forge({"alg": "HS256", "kid": kid}, claims, key)) == 200

    for alg in ("none", "None", "NONE"):
        unsigned = forge({"alg": alg, "typ": "JWT", "kid": kid}, claims, None)
        assert await status_of(harness, unsigned) == 401, alg
    other_secret = forge({"alg": "HS256", "kid": kid}, claims, b"another-secret-" * 3)
    assert await status_of(harness, other_secret) == 401
    # Pinned means pinned: the right key under another HMAC algorithm is refused too.
    hs512 = forge({"alg": "HS512", "kid": kid}, claims, key, hashlib.sha512)
    assert await status_of(harness, hs512) == 401

    # With EdDSA configured, the public key (which anyone may know) used as an HMAC
    # secret must not verify: the classic algorithm-confusion attack.
    _, private_pem, public_pem = ed25519_pair()
    keys = {"kid": "ed1", "private_key": private_pem, "public_key": public_pem}
    async with make_harness(auth=eddsa_settings(keys, active="ed1")) as ed:
        grace = await ed.signup("grace")
        assert jwt.get_unverified_header(grace.access_token)["alg"] == "EdDSA"
        assert await status_of(ed, grace.access_token) == 200
        ed_claims = claims_of(grace.access_token)
        for secret in (public_pem.encode(), public_pem.strip().encode()):
            confused = forge({"alg": "HS256", "kid": "ed1"}, ed_claims, secret)
            assert await status_of(ed, confused) == 401
        unsigned = forge({"alg": "none", "kid": "ed1"}, ed_claims, None)
        assert await status_of(ed, unsigned) == 401


async def test_s29_claims_validated(harness: Harness) -> None:
    account = await harness.signup("ada")
    base = claims_of(account.access_token)
    key, kid = hs256_key(harness), ring(harness).active_kid
    now = int(harness.clock.now().timestamp())

    def signed(**changes: Any) -> str:
        claims = {name: value for name, value in {**base, **changes}.items() if value is not None}
        return jwt.encode(claims, key, algorithm="HS256", headers={"kid": kid})

    assert await status_of(harness, signed()) == 200
    cases: dict[str, dict[str, Any]] = {
        "expired": {"iat": now - 7200, "nbf": now - 7200, "exp": now - 3600},
        "not yet valid": {"nbf": now + 3600},
        "issued in the future": {"iat": now + 3600},
        "wrong aud": {"aud": "some-other-api"},
        "wrong iss": {"iss": EVIL},
        "refresh-typed": {"typ": "refresh"},
        "no exp": {"exp": None},
        "no aud": {"aud": None},
        "no sid": {"sid": None},
    }
    for name, changes in cases.items():
        assert await status_of(harness, signed(**changes)) == 401, name

    # The opaque refresh token is no access token either.
    assert await status_of(harness, account.refresh_token) == 401
    # And a real token stops working once its 30 minutes have passed.
    harness.advance(minutes=31)
    assert await status_of(harness, account.access_token) == 401


async def test_s30_kid_safe_and_rotation(harness: Harness, make_harness: HarnessFactory) -> None:
    account = await harness.signup("ada")
    claims = claims_of(account.access_token)
    key, kid = hs256_key(harness), ring(harness).active_kid
    assert await status_of(harness, forge({"alg": "HS256", "kid": kid}, claims, key)) == 200

    # Unknown and hostile `kid` values are refused, never looked up as files or SQL.
    hostile: list[Any] = [
        "unknown",
        "../x'",
        "../../../../dev/null",
        "' OR '1'='1",
        "",
        f"{kid}\u0000",
        123,
        None,
        [kid],
        {"$ne": None},
    ]
    for value in hostile:
        token = forge({"alg": "HS256", "kid": value}, claims, key)
        assert await status_of(harness, token) == 401, value
    assert await status_of(harness, forge({"alg": "HS256"}, claims, key)) == 401

    # Keys named by the token itself are ignored: signed by the attacker → refused.
    attacker = b"attacker-controlled-secret-0123456789"
    embedded = {
        "alg": "HS256",
        "kid": kid,
        "jku": f"{EVIL}/jwks.json",
        "x5u": f"{EVIL}/cert.pem",
        "jwk": {"kty": "oct", "k": b64(attacker)},
    }
    assert await status_of(harness, forge(embedded, claims, attacker)) == 401

    # Rotation (EdDSA): tokens of the old key verify until the key leaves the ring.
    old_private, old_private_pem, old_public = ed25519_pair()
    _, new_private_pem, new_public = ed25519_pair()
    old = {"kid": "old", "private_key": old_private_pem, "public_key": old_public}
    retired_signer = {"kid": "old", "public_key": old_public}  # verify-only now
    new = {"kid": "new", "private_key": new_private_pem, "public_key": new_public}

    async with make_harness(auth=eddsa_settings(old, active="old")) as before:
        grace = await before.signup("grace")
    old_token = grace.access_token
    assert jwt.get_unverified_header(old_token)["kid"] == "old"

    async with make_harness(auth=eddsa_settings(new, retired_signer, active="new")) as during:
        assert await status_of(during, old_token) == 200
        fresh = await during.sign_in(Account(grace.email, grace.username, grace.password))
        assert jwt.get_unverified_header(fresh.access_token)["kid"] == "new"
        # An attacker's Ed25519 key in `jwk` is not trusted either.
        intruder = Ed25519PrivateKey.generate()
        raw = intruder.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        headers = {"kid": "new", "jwk": {"kty": "OKP", "crv": "Ed25519", "x": b64(raw)}}
        claims_new = claims_of(fresh.access_token)
        forged = jwt.encode(claims_new, intruder, algorithm="EdDSA", headers=headers)
        assert await status_of(during, forged) == 401
        # Sanity for the forgery above: the same token signed by a ring key passes.
        by_old = jwt.encode(claims_new, old_private, algorithm="EdDSA", headers={"kid": "old"})
        assert await status_of(during, by_old) == 200

    async with make_harness(auth=eddsa_settings(new, active="new")) as after:
        assert await status_of(after, old_token) == 401
        assert await status_of(after, fresh.access_token) == 200
