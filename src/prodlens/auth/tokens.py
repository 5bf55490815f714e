"""Access tokens (JWT with a key ring) and opaque secrets (refresh, reset, verification).

The algorithm is pinned; the header's `kid` only selects among our own keys
(`jku`, `jwk` and `x5u` are never looked at); time claims are checked against
`kit/clock.py` so tests can move time.
"""

from __future__ import annotations

import hmac
import math
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import jwt
from cryptography.hazmat.primitives.serialization import load_pem_private_key, load_pem_public_key

from prodlens.config import AuthSettings
from prodlens.kit.clock import Clock
from prodlens.kit.ids import is_valid_id, new_id

ACCESS_TYPE = "access"
DERIVED_KID = "default"
_LEEWAY_SECONDS = 10
_REQUIRED_CLAIMS = ["iss", "aud", "sub", "sid", "typ", "iat", "nbf", "exp", "jti"]


class InvalidToken(Exception):
    """Any reason a token is not accepted; the reason is for logs, never for clients."""


def _numeric_date(claims: dict[str, Any], name: str) -> float:
    """A JSON number (RFC 7519 NumericDate); strings, booleans, NaN and infinities are refused."""
    value = claims[name]
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidToken(f"non-numeric {name}")
    if isinstance(value, float) and not math.isfinite(value):
        raise InvalidToken(f"non-finite {name}")
    return value


@dataclass(frozen=True)
class AccessClaims:
    user_id: str
    session_id: str
    expires_at: int


class KeyRing:
    def __init__(self, settings: AuthSettings, *, secret_key: str, clock: Clock) -> None:
        self.algorithm = settings.jwt_algorithm
        self.issuer = settings.jwt_issuer
        self.audience = settings.jwt_audience
        self.lifetime = timedelta(minutes=settings.access_token_minutes)
        self.clock = clock
        self._verify_keys: dict[str, Any] = {}
        self._signing_key: Any = None
        if not settings.jwt_keys:
            derived = hmac.new(secret_key.encode(), b"prodlens-jwt-hs256", "sha256").digest()
            self._verify_keys[DERIVED_KID] = derived
            self.active_kid = DERIVED_KID
            self._signing_key = derived
            return
        self.active_kid = settings.jwt_active_kid or settings.jwt_keys[0].kid
        for key in settings.jwt_keys:
            if self.algorithm == "HS256":
                assert key.secret is not None  # checked by the settings
                material = key.secret.get_secret_value().encode()
                self._verify_keys[key.kid] = material
                if key.kid == self.active_kid:
                    self._signing_key = material
            else:
                assert key.public_key is not None
                self._verify_keys[key.kid] = load_pem_public_key(key.public_key.encode())
                if key.kid == self.active_kid:
                    if key.private_key is None:
                        raise ValueError(f"active JWT key {key.kid!r} has no private_key")
                    self._signing_key = load_pem_private_key(
                        key.private_key.get_secret_value().encode(), password=None
                    )

    def issue_access(self, *, user_id: str, session_id: str) -> tuple[str, int]:
        """A signed access token and its lifetime in seconds."""
        now = self.clock.now()
        claims = {
            "iss": self.issuer,
            "aud": self.audience,
            "sub": user_id,
            "sid": session_id,
            "typ": ACCESS_TYPE,
            "iat": int(now.timestamp()),
            "nbf": int(now.timestamp()),
            "exp": int((now + self.lifetime).timestamp()),
            "jti": new_id(),
        }
        token = jwt.encode(
            claims, self._signing_key, algorithm=self.algorithm, headers={"kid": self.active_kid}
        )
        return token, int(self.lifetime.total_seconds())

    def verify_access(self, token: str) -> AccessClaims:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError as exc:
            raise InvalidToken("malformed") from exc
        kid = header.get("kid")
        if not isinstance(kid, str) or kid not in self._verify_keys:
            raise InvalidToken("unknown kid")
        if header.get("alg") != self.algorithm:
            raise InvalidToken("unexpected alg")
        try:
            claims = jwt.decode(
                token,
                self._verify_keys[kid],
                algorithms=[self.algorithm],
                audience=self.audience,
                issuer=self.issuer,
                options={
                    "require": _REQUIRED_CLAIMS,
                    "verify_exp": False,  # checked below against our clock
                    "verify_nbf": False,
                    "verify_iat": False,
                },
            )
        except jwt.InvalidTokenError as exc:
            raise InvalidToken(type(exc).__name__) from exc
        now = self.clock.now().timestamp()
        exp, nbf, iat = (_numeric_date(claims, name) for name in ("exp", "nbf", "iat"))
        lifetime = self.lifetime.total_seconds() + _LEEWAY_SECONDS
        if exp <= now - _LEEWAY_SECONDS:
            raise InvalidToken("expired")
        # No token of ours lives longer than the configured lifetime: a later `exp`
        # (10^20, say) was not issued here, whatever signed it.
        if exp > now + lifetime or min(nbf, iat) < exp - lifetime:
            raise InvalidToken("lifetime out of bounds")
        if nbf > now + _LEEWAY_SECONDS or iat > now + _LEEWAY_SECONDS:
            raise InvalidToken("not yet valid")
        if claims["typ"] != ACCESS_TYPE:
            raise InvalidToken("not an access token")
        # Ids are looked up in the database; anything but one of our ids stops here.
        if not all(isinstance(claims[name], str) for name in ("sub", "sid")) or not (
            is_valid_id(claims["sub"]) and is_valid_id(claims["sid"])
        ):
            raise InvalidToken("bad subject")
        return AccessClaims(user_id=claims["sub"], session_id=claims["sid"], expires_at=int(exp))
