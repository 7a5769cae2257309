"""A rank cache in Redis: learners' points per board and period, fed after each commit.

The rank of a learner is 1 + the learners ahead in the cache (a ZCOUNT) + the few the
cache cannot order (counted by PostgreSQL: same points reached within the same second).
A cache score is the points plus a fraction that falls as the second the total was
reached rises, so more points, then an earlier second, come first; a double holds that
exactly up to 2**20 points. Each total carries a version from the database, and the cache
keeps a total only if its version is newer, so late or reordered updates never win.

The cache answers only when its board is marked ready. A missing mark (first use, Redis
restarted, a failed update, a ban) makes the caller count in SQL while one process
rebuilds the board from PostgreSQL.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import asyncpg
import redis.asyncio as redis
from redis.exceptions import RedisError

from app.queries import query

log = logging.getLogger(__name__)
PERIOD_SECONDS = {"all": None, "week": 9 * 86400, "day": 3 * 86400}
SECOND_SLOTS = 2**32


def cache_score(points: int, reached_at_epoch: int) -> float:
    """Orders like the boards, to the second: more points first, then reached earlier."""
    return points + (SECOND_SLOTS - 1 - reached_at_epoch) / SECOND_SLOTS


# KEYS: per board, its sorted set and its versions hash. ARGV: the learner, then per
# board: the cache score, the version, and 1 if the learner is ranked (not banned).
# A score of 1 or less means no points: the learner leaves the board.
_APPLY = """
local member = ARGV[1]
for i = 1, #KEYS, 2 do
  local at = (i - 1) / 2 * 3 + 2
  local score, version = ARGV[at], tonumber(ARGV[at + 1])
  local known = tonumber(redis.call('HGET', KEYS[i + 1], member) or '0')
  if version > known then
    redis.call('HSET', KEYS[i + 1], member, version)
    if ARGV[at + 2] == '1' and tonumber(score) > 1 then
      redis.call('ZADD', KEYS[i], score, member)
    else
      redis.call('ZREM', KEYS[i], member)
    end
  end
end
return 1
"""

# KEYS: a board's sorted set and versions hash. ARGV: member, score, version, ... (ranked).
_LOAD = """
for at = 1, #ARGV, 3 do
  local member, score, version = ARGV[at], ARGV[at + 1], tonumber(ARGV[at + 2])
  local known = tonumber(redis.call('HGET', KEYS[2], member) or '0')
  if version > known then
    redis.call('HSET', KEYS[2], member, version)
    redis.call('ZADD', KEYS[1], score, member)
  end
end
return 1
"""


def board_key(board: str, period_start: str) -> str:
    """The sorted set of one board and period ('-infinity' for all time)."""
    period = "all" if board == "all" else period_start[:10]
    return f"scoreboard:rank:{board}:{period}"


class RankCache:
    """Counts the learners ahead of a total; falls back to SQL whenever unsure."""

    def __init__(self, client: redis.Redis | None, pool: asyncpg.Pool) -> None:
        self._client = client
        self._pool = pool
        self._apply = client.register_script(_APPLY) if client is not None else None
        self._load = client.register_script(_LOAD) if client is not None else None
        self._dirty = False
        self._rebuilding: set[str] = set()

    async def count_above(
        self, board: str, period_start: str, points: int, reached_at: int
    ) -> int | None:
        """Learners ahead of this total (to the second), or None when unsure."""
        if self._client is None:
            return None
        key = board_key(board, period_start)
        try:
            if self._dirty:
                await self._forget_all()
            pipe = self._client.pipeline(transaction=False)
            pipe.exists(f"{key}:ready")
            pipe.zcount(key, f"({cache_score(points, reached_at)!r}", "+inf")
            ready, above = await pipe.execute()
        except (RedisError, OSError) as exc:
            log.warning("rank_cache_unavailable error=%s", type(exc).__name__)
            return None
        if not ready:
            self._start_rebuild(board, period_start)
            return None
        return int(above)

    async def rank(
        self, conn: asyncpg.Connection, board: str, period_start: str, learner: str
    ) -> int | None:
        """A learner's rank on a board: None if they have no points there or are banned."""
        parts = await conn.fetchrow(query("rank_parts"), board, period_start, learner)
        if parts is None:
            return None
        above = await self.count_above(board, period_start, parts["points"], parts["reached_at"])
        if above is None:
            counted = await conn.fetchval(query("rank_of"), board, period_start, learner)
            return int(counted) if counted is not None else None
        return 1 + above + int(parts["ties_before"])

    async def rebuild(self, board: str, period_start: str) -> None:
        """Loads one board from PostgreSQL now (normally done on first use)."""
        await self._rebuild(board, period_start)

    async def apply(self, learner: str, totals: list[dict[str, Any]]) -> None:
        """Hands committed totals (with versions) to the cache; never raises."""
        if self._apply is None or not totals:
            return
        keys: list[str] = []
        args: list[str | int] = [learner]
        for total in totals:
            key = board_key(total["board"], total["period_start"])
            keys += [key, f"{key}:versions"]
            score = cache_score(total["points"], total["reached_at"])
            args += [repr(score), total["version"], 1 if total["ranked"] else 0]
        try:
            await self._apply(keys=keys, args=args)
        except (RedisError, OSError) as exc:
            log.warning("rank_cache_update_lost error=%s", type(exc).__name__)
            self._dirty = True

    async def forget(self) -> None:
        """Drops every ready mark (after a ban or unban): boards are rebuilt on next use."""
        try:
            await self._forget_all()
        except (RedisError, OSError):
            self._dirty = True

    async def _forget_all(self) -> None:
        assert self._client is not None
        marks = [key async for key in self._client.scan_iter("scoreboard:rank:*:ready")]
        if marks:
            await self._client.delete(*marks)
        self._dirty = False

    def _start_rebuild(self, board: str, period_start: str) -> None:
        key = board_key(board, period_start)
        if key not in self._rebuilding:
            self._rebuilding.add(key)
            task = asyncio.get_running_loop().create_task(self._rebuild(board, period_start))
            task.add_done_callback(lambda _: self._rebuilding.discard(key))

    async def _rebuild(self, board: str, period_start: str) -> None:
        """Loads one board from PostgreSQL; one process at a time (a Redis lock)."""
        assert self._client is not None and self._load is not None
        key = board_key(board, period_start)
        try:
            if not await self._client.set(f"{key}:rebuilding", "1", nx=True, ex=120):
                return
            # Start empty (a banned learner must not linger), then load one snapshot taken
            # after that: totals committed later arrive through apply() with newer versions.
            await self._client.delete(key, f"{key}:versions")
            rows = 0
            async with self._pool.acquire() as conn, conn.transaction():
                cursor = conn.cursor(query("rank_cache_rows"), board, period_start)
                batch: list[str | int] = []
                async for row in cursor:
                    score = cache_score(row["points"], row["reached_at"])
                    batch += [row["user_id"], repr(score), row["version"]]
                    if len(batch) >= 30000:
                        await self._load(keys=[key, f"{key}:versions"], args=batch)
                        rows, batch = rows + len(batch) // 3, []
                if batch:
                    await self._load(keys=[key, f"{key}:versions"], args=batch)
                    rows += len(batch) // 3
            ttl = PERIOD_SECONDS[board]
            await self._client.set(f"{key}:ready", "1", ex=ttl)
            if ttl:
                await self._client.expire(key, ttl)
                await self._client.expire(f"{key}:versions", ttl)
            await self._client.delete(f"{key}:rebuilding")
            log.info("rank_cache_rebuilt board=%s learners=%d", key, rows)
        except (RedisError, OSError, asyncpg.PostgresError) as exc:
            log.warning("rank_cache_rebuild_failed board=%s error=%s", key, type(exc).__name__)
