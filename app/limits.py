"""Rate limits per learner and per client address, counted atomically in Redis.

A fixed window per key: one Lua script increments both counters and reads their time to
live in one round trip, so that several app processes share exact counts. What happens
while Redis is away is a setting: refuse completions (503), allow them uncounted, or
count in this process alone.
"""

from __future__ import annotations

import ipaddress
import logging
import math
import time

import redis.asyncio as redis
from litestar.connection import ASGIConnection
from redis.exceptions import RedisError

from app.errors import ServiceUnavailable, TooManyRequests
from app.settings import RedisDownPolicy

log = logging.getLogger(__name__)
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
LOCAL_KEYS_MAX = 100_000

_COUNT_SCRIPT = """
local answer = {}
for i, key in ipairs(KEYS) do
  local count = redis.call('INCR', key)
  if count == 1 then redis.call('PEXPIRE', key, ARGV[1]) end
  answer[#answer + 1] = count
  answer[#answer + 1] = redis.call('PTTL', key)
end
return answer
"""


def client_address(connection: ASGIConnection, trusted: tuple[Network, ...]) -> str:
    """Returns the caller's address: the socket's, or through trusted proxies the nearest
    untrusted address of X-Forwarded-For."""
    peer = connection.client.host if connection.client else "unknown"
    if not trusted or not _is_in(peer, trusted):
        return peer
    forwarded = connection.headers.get("x-forwarded-for", "").split(",")
    for hop in reversed([part.strip() for part in forwarded if part.strip()]):
        try:
            ipaddress.ip_address(hop)
        except ValueError:
            return peer
        if not _is_in(hop, trusted):
            return hop
    return peer


def _is_in(address: str, networks: tuple[Network, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in networks)


class RateLimiter:
    """Refuses a completion once its learner or its address used up the window."""

    def __init__(
        self,
        client: redis.Redis | None,
        per_learner: int,
        per_address: int,
        window_seconds: int,
        when_redis_down: RedisDownPolicy = "refuse",
    ) -> None:
        self._client = client
        self._script = client.register_script(_COUNT_SCRIPT) if client is not None else None
        self._limits = (per_learner, per_address)
        self._window_ms = window_seconds * 1000
        self._when_down = when_redis_down
        self._local: dict[str, tuple[int, float]] = {}

    async def check(self, learner: str, address: str) -> None:
        """Counts one completion; raises TooManyRequests or, with Redis away, maybe 503."""
        keys = [f"scoreboard:limit:learner:{learner}", f"scoreboard:limit:address:{address}"]
        counts = await self._count(keys)
        for (count, ttl_ms), limit, who in zip(
            counts, self._limits, ("learner", "address"), strict=True
        ):
            if count > limit:
                retry_after = max(1, math.ceil(ttl_ms / 1000))
                raise TooManyRequests(
                    f"too many completions from this {who}; retry in {retry_after} s",
                    retry_after=retry_after,
                )

    async def _count(self, keys: list[str]) -> list[tuple[int, int]]:
        if self._script is None:
            return [self._count_locally(key) for key in keys]
        try:
            flat = await self._script(keys=keys, args=[self._window_ms])
        except (RedisError, OSError) as exc:
            log.warning(
                "rate_limit_store_unavailable error=%s policy=%s",
                type(exc).__name__,
                self._when_down,
            )
            if self._when_down == "allow":
                return [(0, 0) for _ in keys]
            if self._when_down == "local":
                return [self._count_locally(key) for key in keys]
            raise ServiceUnavailable(
                "completions are paused: the rate-limit store is unavailable; retry shortly"
            ) from exc
        return [(int(flat[i]), int(flat[i + 1])) for i in range(0, len(flat), 2)]

    def _count_locally(self, key: str) -> tuple[int, int]:
        """Counts in this process only: without Redis, or while it is away."""
        now = time.monotonic()
        if len(self._local) > LOCAL_KEYS_MAX:
            self._local = {k: v for k, v in self._local.items() if v[1] > now}
        count, ends = self._local.get(key, (0, 0.0))
        if now >= ends:
            count, ends = 0, now + self._window_ms / 1000
        self._local[key] = (count + 1, ends)
        return count + 1, int((ends - now) * 1000)
