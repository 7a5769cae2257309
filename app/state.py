"""The parts one service process shares between requests."""

from __future__ import annotations

from dataclasses import dataclass, field

import asyncpg

from app.auth import TokenVerifier
from app.limits import Network, RateLimiter
from app.ranks import RankCache
from app.settings import Settings
from notify.hub import BoardHub
from notify.listener import BoardListener


@dataclass
class Runtime:
    """Settings, pool, token verifier, rate limiter, board hub and its listener."""

    settings: Settings
    pool: asyncpg.Pool
    verifier: TokenVerifier
    limiter: RateLimiter
    hub: BoardHub
    listener: BoardListener
    ranks: RankCache
    trusted_proxies: tuple[Network, ...] = ()
    streams_by_address: dict[str, int] = field(default_factory=dict)
