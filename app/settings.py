"""One typed settings object, read from SCOREBOARD_* variables and checked at start-up."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path

from app.errors import SettingsError

PREFIX = "SCOREBOARD_"
PROJECT_ROOT = Path(__file__).resolve().parent.parent
SUPPORTED_ALGORITHMS = ("HS256", "HS384", "HS512", "RS256", "ES256", "EdDSA")


@dataclass(frozen=True)
class Settings:
    """Every setting of the service; the docstring of each field is its README entry."""

    database_url: str = ""
    redis_url: str = ""
    data_dir: Path = PROJECT_ROOT / ".scoreboard"
    host: str = "127.0.0.1"
    port: int = 8000
    jwt_secret: str = field(default="", repr=False)
    jwt_algorithms: tuple[str, ...] = ("HS256",)
    jwt_audience: str = "scoreboard"
    jwt_issuer: str = "scoreboard-local"
    jwt_leeway_seconds: int = 30
    rate_limit_per_learner: int = 120
    rate_limit_per_address: int = 1200
    rate_limit_window_seconds: int = 60
    completed_at_max_age_hours: int = 72
    stream_ping_seconds: float = 15.0
    stream_send_timeout_seconds: float = 10.0
    listener_probe_seconds: float = 5.0
    db_pool_size: int = 10

    def __post_init__(self) -> None:
        for name in (
            "port",
            "rate_limit_per_learner",
            "rate_limit_per_address",
            "rate_limit_window_seconds",
            "completed_at_max_age_hours",
            "db_pool_size",
        ):
            if getattr(self, name) < 1:
                raise SettingsError(f"{PREFIX}{name.upper()} must be at least 1")
        for name in (
            "stream_ping_seconds",
            "stream_send_timeout_seconds",
            "listener_probe_seconds",
        ):
            if not 0 < getattr(self, name) <= 3600:
                raise SettingsError(f"{PREFIX}{name.upper()} must be between 0 and 3600")
        unknown = set(self.jwt_algorithms) - set(SUPPORTED_ALGORITHMS)
        if unknown or not self.jwt_algorithms:
            raise SettingsError(
                f"{PREFIX}JWT_ALGORITHMS has {sorted(unknown) or 'nothing'}; "
                f"choose from {', '.join(SUPPORTED_ALGORITHMS)}"
            )
        if self.jwt_secret and len(self.jwt_secret) < 32:
            raise SettingsError(f"{PREFIX}JWT_SECRET must be at least 32 characters long")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Reads the settings from the environment; a bad value raises SettingsError."""
        env = os.environ if environ is None else environ
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
        raise SettingsError(f"{PREFIX}{name.upper()}={raw!r} is not a valid {kind}") from None
    return raw
