"""Bearer tokens: JWTs verified with pinned algorithms, required claims and a bounded age.

A token never chooses its own algorithm: its `alg` must be one the settings pin, and each
family has its own key (the shared secret for HS*, a public key or a JWKS for the rest),
so a token signed with HS256 over a public key is refused.
"""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from app.errors import Forbidden, ServiceUnavailable, SettingsError, Unauthorized
from app.settings import SYMMETRIC_ALGORITHMS, Settings

SCOPE_WRITE = "scores:write"
SCOPE_ADMIN = "scores:admin"
REQUIRED_CLAIMS = ["exp", "iat", "sub", "aud", "iss"]
MAX_NAME_LENGTH = 64
MAX_TOKEN_LENGTH = 8192
SUBJECT_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:@|-]{0,63}$"
_SUBJECT = re.compile(SUBJECT_PATTERN)
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2066-\u2069]")


@dataclass(frozen=True)
class Principal:
    """Who is calling: the learner id (`sub`), the granted scopes and the display name."""

    subject: str
    scopes: frozenset[str]
    name: str | None

    def require(self, scope: str) -> None:
        """Raises Forbidden unless the token grants `scope`."""
        if scope not in self.scopes:
            raise Forbidden(f"this token lacks the scope {scope!r}")


def clean_display_name(raw: object) -> str | None:
    """Returns a display name as plain text: control characters dropped, length-limited."""
    if not isinstance(raw, str):
        return None
    name = _CONTROL.sub("", " ".join(raw.split()))[:MAX_NAME_LENGTH].strip()
    return name or None


def load_public_key(value: str) -> Any:
    """Parses a PEM public key, given as text or as the path of a file, once."""
    try:
        text = value if "-----BEGIN" in value else Path(value).read_text()
    except OSError as exc:
        raise SettingsError(
            f"SCOREBOARD_JWT_PUBLIC_KEY: cannot read the key file {value!r}: {exc.strerror}"
        ) from None
    try:
        return load_pem_public_key(text.encode())
    except ValueError as exc:
        raise SettingsError(f"SCOREBOARD_JWT_PUBLIC_KEY is not a PEM public key: {exc}") from None


class TokenVerifier:
    """Verifies bearer tokens against the pinned algorithms and keys of the settings."""

    def __init__(self, settings: Settings) -> None:
        self._secret = settings.jwt_secret
        self._algorithms = frozenset(settings.jwt_algorithms)
        self._audience = settings.jwt_audience
        self._issuer = settings.jwt_issuer
        self._leeway = settings.jwt_leeway_seconds
        self._max_age = settings.jwt_max_age_seconds
        self._public_key = (
            load_public_key(settings.jwt_public_key) if settings.jwt_public_key else None
        )
        self._jwks = (
            jwt.PyJWKClient(settings.jwt_jwks_url, lifespan=300, timeout=3, cooldown_duration=30)
            if settings.jwt_jwks_url
            else None
        )

    async def verify(self, authorization: str | None) -> Principal:
        """Returns the caller of a request's Authorization header; raises Unauthorized."""
        scheme, _, token = (authorization or "").partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise Unauthorized("a bearer token is required")
        if len(token) > MAX_TOKEN_LENGTH:
            raise Unauthorized("the token is too long")
        try:
            algorithm = jwt.get_unverified_header(token).get("alg")
            if not isinstance(algorithm, str) or algorithm not in self._algorithms:
                raise Unauthorized(f"tokens signed with {algorithm!r} are not accepted")
            claims = jwt.decode(
                token,
                await self._key_for(algorithm, token),
                algorithms=[algorithm],
                audience=self._audience,
                issuer=self._issuer,
                leeway=self._leeway,
                options={"require": REQUIRED_CLAIMS},
            )
        except jwt.PyJWTError as exc:
            raise Unauthorized(f"the token was refused: {exc}") from None
        return self._principal(claims)

    async def _key_for(self, algorithm: str, token: str) -> Any:
        if algorithm in SYMMETRIC_ALGORITHMS:
            return self._secret
        if self._jwks is None:
            return self._public_key
        try:
            signing_key = await asyncio.to_thread(self._jwks.get_signing_key_from_jwt, token)
        except jwt.PyJWKClientConnectionError as exc:
            raise ServiceUnavailable("the token keys (JWKS) cannot be fetched now") from exc
        return signing_key.key

    def _principal(self, claims: dict[str, Any]) -> Principal:
        issued_at = claims["iat"]
        if not isinstance(issued_at, int | float) or time.time() - issued_at > self._max_age:
            raise Unauthorized(f"the token is older than {self._max_age} seconds")
        subject = claims["sub"]
        if not isinstance(subject, str) or not _SUBJECT.match(subject):
            raise Unauthorized("the token's subject is not a valid learner id")
        scopes = claims.get("scope", "")
        if not isinstance(scopes, str):
            raise Unauthorized("the token's scope claim must be a space-separated string")
        name = clean_display_name(claims.get("name"))
        return Principal(subject, frozenset(scopes.split()), name)


def mint_token(
    settings: Settings,
    subject: str,
    scopes: list[str],
    name: str | None = None,
    ttl_seconds: int = 3600,
) -> str:
    """Returns an HS256 token that this service accepts: for local use and tests."""
    now = int(time.time())
    claims: dict[str, object] = {
        "sub": subject,
        "scope": " ".join(scopes),
        "aud": settings.jwt_audience,
        "iss": settings.jwt_issuer,
        "iat": now,
        "exp": now + ttl_seconds,
        "jti": str(uuid.uuid4()),
    }
    if name:
        claims["name"] = name
    return jwt.encode(claims, settings.jwt_secret, algorithm="HS256")
