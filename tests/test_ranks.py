"""Ranks in completion answers come from the Redis rank cache and match SQL exactly."""

from __future__ import annotations

import random
import time

import httpx
import psycopg
import redis

from tests.conftest import Server
from tests.test_http import complete


def sql_rank(db_url: str, learner: str) -> int | None:
    with psycopg.connect(db_url) as conn:
        row = conn.execute(
            "select scoreboard.rank_of('all', '-infinity', %s)", (learner,)
        ).fetchone()
    return row[0] if row else None


def wait_until_cached(server: Server) -> None:
    client = redis.Redis.from_url(server.settings.redis_url)
    deadline = time.monotonic() + 5
    while not client.exists("scoreboard:rank:all:all:ready"):
        assert time.monotonic() < deadline, "the rank cache was never rebuilt"
        time.sleep(0.05)


def test_ranks_match_sql_with_ties_and_bans(server: Server) -> None:
    rng = random.Random(3)
    complete(server, server.token("seed"), "lesson-1")
    wait_until_cached(server)
    learners = [f"learner-{i:02}" for i in range(12)]
    done: set[tuple[str, int]] = set()
    for _ in range(40):
        learner, lesson = rng.choice(learners), rng.randrange(1, 5)
        if (learner, lesson) in done:
            continue
        done.add((learner, lesson))
        answer = complete(server, server.token(learner), f"lesson-{lesson}")
        assert answer.status_code == 201
        assert answer.json()["rank"] == sql_rank(server.settings.database_url, learner)

    leader = httpx.get(f"{server.url}/api/leaderboard").json()["entries"][0]["user_id"]
    admin = {"Authorization": f"Bearer {server.token('teacher', admin=True)}"}
    httpx.put(
        f"{server.url}/api/admin/learners/{leader}/ban", json={"reason": "test"}, headers=admin
    )
    follower = next(name for name in learners if name != leader)
    counted_in_sql = complete(server, server.token(follower), "lesson-11")
    wait_until_cached(server)
    from_cache = complete(server, server.token(follower), "lesson-12")

    for answer in (counted_in_sql, from_cache):
        assert answer.json()["rank"] == sql_rank(server.settings.database_url, follower)
    assert from_cache.json()["rank"] == 1, "the banned leader is not counted"


async def test_a_ban_during_a_rebuild_leaves_the_cache_unready(
    db_url: str, redis_url: str
) -> None:
    """A rebuild reads a snapshot that may not know of a ban made meanwhile: it must not mark
    the board ready, or the banned learner would be counted for as long as the mark lasts."""
    import asyncio

    import asyncpg
    import redis.asyncio as aioredis

    from app.ranks import RankCache

    with psycopg.connect(db_url) as conn:
        conn.execute(
            "insert into scoreboard.learners (user_id, display_name)"
            " select 'l' || i, 'L' || i from generate_series(1, 60000) i"
        )
        conn.execute(
            "insert into scoreboard.board_totals"
            " (board, period_start, user_id, points, reached_at)"
            " select 'all', '-infinity', 'l' || i, i, now() from generate_series(1, 60000) i"
        )
    client = aioredis.Redis.from_url(redis_url)
    pool = await asyncpg.create_pool(db_url, min_size=1, max_size=2)
    try:
        cache = RankCache(client, pool)
        # The rebuild pauses after its first batch (its snapshot is taken by then) until the
        # ban is done, so the race happens every time.
        load_batch, first_batch, banned = cache._load, asyncio.Event(), asyncio.Event()

        async def load_then_wait(**kwargs: object) -> object:
            loaded = await load_batch(**kwargs)  # type: ignore[misc]
            first_batch.set()
            await banned.wait()
            return loaded

        cache._load = load_then_wait  # type: ignore[assignment]
        rebuilding = asyncio.create_task(cache.rebuild("all", "-infinity"))
        await first_batch.wait()
        async with pool.acquire() as conn:
            await conn.execute("select scoreboard.set_ban_v1('l60000', true, 'test', 'test')")
        await cache.forget()
        banned.set()
        await rebuilding
        cache._load = load_batch
        ready = await client.exists("scoreboard:rank:all:all:ready")

        assert not ready, "a rebuild from before the ban marked the board ready"
        await cache.rebuild("all", "-infinity")
        assert await client.exists("scoreboard:rank:all:all:ready")
        assert await client.zscore("scoreboard:rank:all:all", "l60000") is None
        assert await cache.count_above("all", "-infinity", 59999, 0) == 0
    finally:
        await pool.close()
        await client.aclose()
