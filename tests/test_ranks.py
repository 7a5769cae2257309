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
