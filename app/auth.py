"""Bearer tokens: JWTs verified with pinned algorithms and required claims."""

from __future__ import annotations

import re
import time
import uuid
from dataclasses import dataclass

import jwt

from app.errors import Forbidden, Unauthorized
from app.settings import Settings

SCOPE_WRITE = "scores:write"
SCOPE_ADMIN = "scores:admin"
REQUIRED_CLAIMS = ["exp", "iat", "sub", "aud", "iss"]
MAX_NAME_LENGTH = 64
_SUBJECT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:@|-]{0,63}$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


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


class TokenVerifier:
    """Verifies bearer tokens; the algorithm list comes from settings, never from the token."""

    def __init__(self, settings: Settings) -> None:
        self._key = settings.jwt_secret
        self._algorithms = list(settings.jwt_algorithms)
        self._audience = settings.jwt_audience
        self._issuer = settings.jwt_issuer
        self._leeway = settings.jwt_leeway_seconds

    def verify(self, authorization: str | None) -> Principal:
        """Returns the caller of a request's Authorization header; raises Unauthorized."""
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthorized("a bearer token is required")
        try:
            claims = jwt.decode(
                token.strip(),
                self._key,
                algorithms=self._algorithms,
                audience=self._audience,
                issuer=self._issuer,
                leeway=self._leeway,
                options={"require": REQUIRED_CLAIMS},
            )
        except jwt.PyJWTError as exc:
            raise Unauthorized(f"the token was refused: {exc}") from None
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
