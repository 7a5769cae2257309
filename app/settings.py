"""One typed settings object, read from SCOREBOARD_* variables and checked at start-up."""

from __future__ import annotations

import difflib
import ipaddress
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Literal, get_args

from app.errors import SettingsError

PREFIX = "SCOREBOARD_"
PROJECT_ROOT = Path(__file__).resolve().parent.parent
SYMMETRIC_ALGORITHMS = ("HS256", "HS384", "HS512")
ASYMMETRIC_ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "ES256", "ES384", "EdDSA")
RedisDownPolicy = Literal["refuse", "allow", "local"]

POSITIVE = (
    "port",
    "rate_limit_per_learner",
    "rate_limit_per_address",
    "rate_limit_window_seconds",
    "completed_at_max_age_hours",
    "db_pool_size",
    "jwt_max_age_seconds",
    "max_points_per_hour",
    "streams_per_address",
)
# Kubernetes gives every pod variables for each Service: for one named "scoreboard",
# SCOREBOARD_SERVICE_HOST, SCOREBOARD_SERVICE_PORT, SCOREBOARD_PORT_8000_TCP and so on.
SERVICE_LINK = re.compile(rf"{PREFIX}(SERVICE_[A-Z0-9_]+|PORT_\d+_[A-Z0-9_]+)$")
SECONDS = ("stream_ping_seconds", "stream_send_timeout_seconds", "listener_probe_seconds")


@dataclass(frozen=True)
class Settings:
    """Every setting of the service (the README's configuration table describes each)."""

    database_url: str = field(default="", repr=False)
    database_role: str = "scoreboard_app"
    redis_url: str = field(default="", repr=False)
    data_dir: Path = PROJECT_ROOT / ".scoreboard"
    host: str = "127.0.0.1"
    port: int = 8000
    jwt_secret: str = field(default="", repr=False)
    jwt_public_key: str = ""
    jwt_jwks_url: str = ""
    jwt_algorithms: tuple[str, ...] = ("HS256",)
    jwt_audience: str = "scoreboard"
    jwt_issuer: str = "scoreboard-local"
    jwt_leeway_seconds: int = 30
    jwt_max_age_seconds: int = 86400
    rate_limit_per_learner: int = 120
    rate_limit_per_address: int = 1200
    rate_limit_window_seconds: int = 60
    rate_limit_redis_down: RedisDownPolicy = "refuse"
    trusted_proxies: tuple[str, ...] = ()
    max_points_per_hour: int = 1000
    completed_at_max_age_hours: int = 72
    streams_per_address: int = 50
    stream_ping_seconds: float = 15.0
    stream_send_timeout_seconds: float = 10.0
    listener_probe_seconds: float = 5.0
    db_pool_size: int = 10
    log_format: Literal["auto", "json", "text"] = "auto"

    def __post_init__(self) -> None:
        for name in POSITIVE:
            if getattr(self, name) < 1:
                raise SettingsError(f"{PREFIX}{name.upper()} must be at least 1")
        for name in SECONDS:
            if not 0 < getattr(self, name) <= 3600:
                raise SettingsError(f"{PREFIX}{name.upper()} must be between 0 and 3600")
        if self.jwt_leeway_seconds < 0:
            raise SettingsError(f"{PREFIX}JWT_LEEWAY_SECONDS must not be negative")
        if self.rate_limit_redis_down not in get_args(RedisDownPolicy):
            raise SettingsError(
                f"{PREFIX}RATE_LIMIT_REDIS_DOWN={self.rate_limit_redis_down!r}: "
                "choose refuse, allow or local"
            )
        for proxy in self.trusted_proxies:
            try:
                ipaddress.ip_network(proxy, strict=False)
            except ValueError:
                raise SettingsError(
                    f"{PREFIX}TRUSTED_PROXIES has {proxy!r}, not an address or network"
                ) from None
        if self.log_format not in ("auto", "json", "text"):
            raise SettingsError(
                f"{PREFIX}LOG_FORMAT={self.log_format!r}: choose auto, json or text"
            )
        self._check_keys()

    def _check_keys(self) -> None:
        algorithms = set(self.jwt_algorithms)
        unknown = algorithms - set(SYMMETRIC_ALGORITHMS) - set(ASYMMETRIC_ALGORITHMS)
        if unknown or not algorithms:
            raise SettingsError(
                f"{PREFIX}JWT_ALGORITHMS has {sorted(unknown) or 'nothing'}; choose from "
                f"{', '.join(SYMMETRIC_ALGORITHMS + ASYMMETRIC_ALGORITHMS)}"
            )
        if self.jwt_secret and len(self.jwt_secret) < 32:
            raise SettingsError(f"{PREFIX}JWT_SECRET must be at least 32 characters long")
        if algorithms & set(ASYMMETRIC_ALGORITHMS) and not (
            self.jwt_public_key or self.jwt_jwks_url
        ):
            raise SettingsError(
                f"{PREFIX}JWT_ALGORITHMS names a public-key algorithm: set "
                f"{PREFIX}JWT_PUBLIC_KEY or {PREFIX}JWT_JWKS_URL"
            )
        if self.jwt_public_key and self.jwt_jwks_url:
            raise SettingsError(f"set {PREFIX}JWT_PUBLIC_KEY or {PREFIX}JWT_JWKS_URL, not both")

    @property
    def uses_secret(self) -> bool:
        """True when some accepted algorithm verifies with the shared secret."""
        return bool(set(self.jwt_algorithms) & set(SYMMETRIC_ALGORITHMS))

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Reads the settings from the environment; a bad value raises SettingsError."""
        env = os.environ if environ is None else environ
        known = {PREFIX + f.name.upper() for f in fields(cls)}
        for name in sorted(env):
            if name.startswith(PREFIX) and name not in known and not SERVICE_LINK.match(name):
                stems = [k.removeprefix(PREFIX) for k in known]
                close = difflib.get_close_matches(name.removeprefix(PREFIX), stems, 1, 0.7)
                hint = f" (did you mean {PREFIX}{close[0]}?)" if close else ""
                raise SettingsError(
                    f"{name} is not a setting of the service{hint}; "
                    "the README's Configuration table lists them all"
                )
        values: dict[str, object] = {}
        for f in fields(cls):
            raw = env.get(PREFIX + f.name.upper())
            if raw is None and f.name == "database_url":
                raw = env.get("DATABASE_URL")
            if raw is not None:
                values[f.name] = _parse(f.name, str(f.type), raw)
        return cls(**values)  # type: ignore[arg-type]


def _parse(name: str, kind: str, raw: str) -> object:
    """Converts one variable's text to its field's type, naming the variable on failure."""
    try:
        if kind == "int":
            return int(raw)
        if kind == "float":
            return float(raw)
        if kind == "Path":
            return Path(raw)
        if kind.startswith("tuple"):
            return tuple(part.strip() for part in raw.split(",") if part.strip())
    except ValueError:
        if name == "port" and raw.startswith("tcp://"):
            raise SettingsError(
                f"{PREFIX}PORT={raw!r} was set by Kubernetes for a Service named scoreboard: "
                "set enableServiceLinks: false in the pod spec, or set "
                f"{PREFIX}PORT to a number"
            ) from None
        raise SettingsError(f"{PREFIX}{name.upper()}={raw!r} is not a valid {kind}") from None
    return raw
