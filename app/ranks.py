"""A rank cache in Redis: learners' points per board and period, fed after each commit.

The rank of a learner is 1 + the learners ahead in the cache (a ZCOUNT) + the few the
cache cannot order (counted by PostgreSQL: same points reached within the same second).
A cache score is the points plus a fraction that falls as the second the total was
reached rises, so more points, then an earlier second, come first; a double holds that
exactly up to 2**20 points. Each total carries a version from the database, and the cache
keeps a total only if its version is newer, so late or reordered updates never win.

The cache answers only when its board is marked ready. A missing mark (first use, Redis
restarted, a failed update, a ban) makes the caller count in SQL while one process
rebuilds the board from PostgreSQL. A ban or unban also raises a generation number: a
rebuild that began before it (from a snapshot that may not know of it) marks nothing ready.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
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


# KEYS: the generation, the board's rebuild lock, its ready mark. ARGV: the generation the
# rebuild began in, the lock's token, the mark's lifetime in seconds (0: none). Releases the
# lock if it is still this rebuild's; marks the board ready only if nothing was forgotten
# meanwhile. A generation of "" only releases.
_FINISH = """
local ours = redis.call('GET', KEYS[2]) == ARGV[2]
if ours then redis.call('DEL', KEYS[2]) end
if not ours or (redis.call('GET', KEYS[1]) or '0') ~= ARGV[1] then return 0 end
if ARGV[3] == '0' then
  redis.call('SET', KEYS[3], '1')
else
  redis.call('SET', KEYS[3], '1', 'EX', ARGV[3])
end
return 1
"""
GENERATION_KEY = "scoreboard:rank:generation"
LOCK_SECONDS = 120  # a rebuild's lock lasts this long past its last batch


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
        self._finish = client.register_script(_FINISH) if client is not None else None
        self._dirty = False
        self._rebuilds: dict[str, asyncio.Task[None]] = {}

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
        await self._client.incr(GENERATION_KEY)
        marks = [key async for key in self._client.scan_iter("scoreboard:rank:*:ready")]
        if marks:
            await self._client.delete(*marks)
        self._dirty = False

    async def close(self) -> None:
        """Stops the rebuilds in progress (at shutdown, before the pool closes)."""
        rebuilds = list(self._rebuilds.values())
        for task in rebuilds:
            task.cancel()
        await asyncio.gather(*rebuilds, return_exceptions=True)

    def _start_rebuild(self, board: str, period_start: str) -> None:
        key = board_key(board, period_start)
        if key not in self._rebuilds:
            task = asyncio.get_running_loop().create_task(self._rebuild(board, period_start))
            self._rebuilds[key] = task
            task.add_done_callback(lambda _: self._rebuilds.pop(key, None))

    async def _rebuild(self, board: str, period_start: str) -> None:
        """Loads one board from PostgreSQL; one process at a time (a Redis lock)."""
        assert self._client is not None and self._finish is not None
        key = board_key(board, period_start)
        keys = [GENERATION_KEY, f"{key}:rebuilding", f"{key}:ready"]
        token = secrets.token_hex(8)
        outcome: list[str | int] = ["", token, 0]  # release the lock, mark nothing ready
        try:
            generation = int(await self._client.get(GENERATION_KEY) or 0)
            if not await self._client.set(keys[1], token, nx=True, ex=LOCK_SECONDS):
                return
            try:
                rows = await self._load_board(board, period_start, key, keys[1])
                ttl = PERIOD_SECONDS[board] or 0
                if ttl:
                    await self._client.expire(key, ttl)
                    await self._client.expire(f"{key}:versions", ttl)
                outcome = [generation, token, ttl]
            finally:
                ready = await self._finish(keys=keys, args=outcome)
        except (
            RedisError,
            OSError,
            TimeoutError,
            asyncpg.PostgresError,
            asyncpg.InterfaceError,
        ) as exc:
            log.warning("rank_cache_rebuild_failed board=%s error=%s", key, type(exc).__name__)
            return
        if ready:
            log.info("rank_cache_rebuilt board=%s learners=%d", key, rows)
        else:
            log.info("rank_cache_rebuild_outdated board=%s reason=ban_or_unban", key)

    async def _load_board(self, board: str, period_start: str, key: str, lock: str) -> int:
        """Empties the board's cache and loads it from one snapshot; returns the learners.
        Each batch extends the rebuild lock, so a long rebuild keeps it."""
        assert self._client is not None and self._load is not None
        # Start empty (a banned learner must not linger), then load one snapshot taken after
        # that: totals committed later arrive through apply() with newer versions.
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
                    await self._client.expire(lock, LOCK_SECONDS)
                    rows, batch = rows + len(batch) // 3, []
            if batch:
                await self._load(keys=[key, f"{key}:versions"], args=batch)
                rows += len(batch) // 3
        return rows
