"""Rate limits per learner and per client address, counted atomically in Redis.

A fixed window per key: one Lua script increments both counters and reads their time to
live in one round trip, so that several app processes share exact counts.
"""

from __future__ import annotations

import logging
import math
import time

import redis.asyncio as redis
from redis.exceptions import RedisError

from app.errors import ServiceUnavailable, TooManyRequests

log = logging.getLogger(__name__)

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


class RateLimiter:
    """Refuses a completion once its learner or its address used up the window."""

    def __init__(
        self, client: redis.Redis | None, per_learner: int, per_address: int, window_seconds: int
    ) -> None:
        self._client = client
        self._script = client.register_script(_COUNT_SCRIPT) if client is not None else None
        self._limits = (per_learner, per_address)
        self._window_ms = window_seconds * 1000
        self._local: dict[str, tuple[int, float]] = {}

    async def check(self, learner: str, address: str) -> None:
        """Counts one completion; raises TooManyRequests or, with Redis away, 503."""
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
            log.warning("rate_limit_store_unavailable error=%s", type(exc).__name__)
            raise ServiceUnavailable(
                "completions are paused: the rate-limit store is unavailable; retry shortly"
            ) from exc
        return [(int(flat[i]), int(flat[i + 1])) for i in range(0, len(flat), 2)]

    def _count_locally(self, key: str) -> tuple[int, int]:
        """Counts in this process only: the fallback when no Redis is configured."""
        now = time.monotonic()
        count, ends = self._local.get(key, (0, 0.0))
        if now >= ends:
            count, ends = 0, now + self._window_ms / 1000
        self._local[key] = (count + 1, ends)
        return count + 1, int((ends - now) * 1000)
