"""SPEC section 4's invariant under concurrency: once writes stop, the last announced top 10
of every board equals the top 10 computed from the events, and versions strictly rise."""

from __future__ import annotations

import asyncio
import json
import random
import uuid
from dataclasses import dataclass

import asyncpg
import psycopg
import pytest

WRITERS = 16
OPERATIONS_PER_WRITER = 60
LEARNERS = 24
LESSONS = 40

# A correction event for a learner ($1) of some points ($2), as an operator files it.
CORRECTION = (
    "insert into scoreboard.score_events (time, user_id, points, kind, actor, reason) "
    "values (now(), $1, $2, 'correction', 'test-admin', 'concurrency test')"
)

# The truth, from the events alone: sum and last event time per learner, in board order.
TOP_FROM_EVENTS = """
select coalesce(jsonb_agg(jsonb_build_object('rank', rank, 'user_id', user_id,
                'display_name', display_name, 'points', points) order by rank), '[]')::text
from (
    select row_number() over (order by sum(e.points) desc, max(e.time), e.user_id) as rank,
           e.user_id, l.display_name, sum(e.points) as points
    from scoreboard.score_events e
    join scoreboard.learners l on l.user_id = e.user_id and l.banned_at is null
    where e.time >= $1
    group by e.user_id, l.display_name
    having sum(e.points) > 0
    order by 1
    limit 10
) top
"""


@dataclass(frozen=True)
class Mix:
    """The shares of operations that are not completions."""

    corrections: float = 0.0
    bans: float = 0.0


async def write(url: str, seed: int, barrier: asyncio.Barrier, mix: Mix) -> None:
    """Completes lessons, files corrections and bans or unbans learners close to each other.

    All writers start each operation together and hold their transaction open a moment
    after writing, so that commits overlap the decisions of other writers.
    """
    rng = random.Random(seed)
    conn = await asyncpg.connect(url)
    try:
        for _ in range(OPERATIONS_PER_WRITER):
            learner = f"learner-{rng.randrange(LEARNERS):02}"
            await barrier.wait()
            async with conn.transaction():
                await one_operation(conn, rng, learner, mix)
                await conn.execute("select pg_sleep($1)", rng.uniform(0, 0.004))
    finally:
        await conn.close()


async def one_operation(
    conn: asyncpg.Connection, rng: random.Random, learner: str, mix: Mix
) -> None:
    draw = rng.random()
    if draw < mix.bans:
        await conn.execute(
            "select scoreboard.set_ban_v1($1, $2, 'concurrency test', 'test-admin')",
            learner,
            rng.random() < 0.5,
        )
    elif draw < mix.bans + mix.corrections:
        await conn.execute(CORRECTION, learner, rng.choice([-12, -7, -3, 2, 5]))
    else:
        await conn.fetchrow(
            "select * from scoreboard.record_completion_v2("
            "$1, $2, null, $3, now(), 'digest', $2, 100000)",
            uuid.uuid4(),
            learner,
            f"near-{rng.randrange(LESSONS):02}",
        )


@pytest.mark.parametrize(
    "mix",
    [Mix(), Mix(corrections=0.25), Mix(corrections=0.1, bans=0.08)],
    ids=["completions", "with corrections", "with corrections and bans"],
)
async def test_last_announcement_equals_the_computed_top_10_under_concurrency(
    db_url: str, mix: Mix
) -> None:
    """16 writers near the 10th place; corrections lower totals, bans take learners off."""
    with psycopg.connect(db_url) as setup:
        for i in range(LESSONS):
            setup.execute(
                "insert into scoreboard.lessons values (%s, %s, %s)",
                (f"near-{i:02}", f"Near {i}", 1 + i % 3),
            )
        for i in range(LEARNERS):
            setup.execute(
                "insert into scoreboard.learners (user_id, display_name) values (%s, %s)",
                (f"learner-{i:02}", f"Learner {i}"),
            )

    announced: dict[str, list[dict]] = {"all": [], "week": [], "day": []}
    listener = await asyncpg.connect(db_url)
    await listener.add_listener(
        await listener.fetchval("select name from scoreboard.announcement_channel"),
        lambda *args: (p := json.loads(args[3]), announced[p["board"]].append(p)),
    )

    barrier = asyncio.Barrier(WRITERS)
    await asyncio.gather(*(write(db_url, seed, barrier, mix) for seed in range(WRITERS)))
    # Every writer has committed: one round trip on the listening connection brings the
    # notifications still queued for it, before its answer.
    await listener.fetchval("select 1")
    await asyncio.sleep(0)

    checker = await asyncpg.connect(db_url)
    for board, sent in announced.items():
        versions = [p["version"] for p in sent]
        period = await checker.fetchval(
            "select period_start from scoreboard.boards where board = $1", board
        )
        truth = json.loads(await checker.fetchval(TOP_FROM_EVENTS, period))
        stored = await checker.fetchrow(
            "select version, entries::text from scoreboard.boards where board = $1", board
        )
        assert len(sent) > 10, f"the {board} board changed often during the run"
        assert versions == list(range(1, len(versions) + 1)), f"{board}: each version once"
        assert sent[-1]["entries"] == truth, f"the last {board} announcement is the truth"
        assert (stored["version"], json.loads(stored["entries"])) == (versions[-1], truth)
    await checker.close()
    await listener.close()


async def until_waiting_on_a_lock(db_url: str, pid: int) -> None:
    """Returns once the session `pid` waits for a lock (polled: nothing announces it), read
    from a connection of its own: activity is read once per transaction."""
    watcher = await asyncpg.connect(db_url)
    try:
        for _ in range(500):
            waiting = await watcher.fetchval(
                "select wait_event_type = 'Lock' from pg_stat_activity where pid = $1", pid
            )
            if waiting:
                return
            await asyncio.sleep(0.01)
        raise AssertionError(f"session {pid} never waited for a lock")
    finally:
        await watcher.close()


async def test_a_correction_racing_a_rising_learner_leaves_the_truth(db_url: str) -> None:
    """A correction opens a place in the top 10 while, concurrently, a learner just below
    the cut-off gains points: the final board shows that learner's new total."""
    corrector = await asyncpg.connect(db_url)
    for learner, name, points in [
        *((f"top-{i}", f"Top {i}", 100 + i) for i in range(10)),
        ("riser", "Riser", 95),
    ]:
        await corrector.execute(
            "insert into scoreboard.learners (user_id, display_name) values ($1, $2)",
            learner,
            name,
        )
        await corrector.execute(CORRECTION, learner, points)
    riser = await asyncpg.connect(db_url)
    lowering = corrector.transaction()
    await lowering.start()
    await corrector.execute(CORRECTION, "top-0", -20)
    rising = asyncio.create_task(riser.execute(CORRECTION, "riser", 4))
    await until_waiting_on_a_lock(db_url, riser.get_server_pid())
    await lowering.commit()
    await rising

    entries = json.loads(
        await riser.fetchval("select entries::text from scoreboard.boards where board = 'all'")
    )
    await corrector.close()
    await riser.close()
    assert {"rank": 10, "user_id": "riser", "display_name": "Riser", "points": 99} in entries
    assert all(e["user_id"] != "top-0" for e in entries)
