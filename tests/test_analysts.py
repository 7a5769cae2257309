"""The analysts' views, functions and query library, run against seeded events with known
answers, as the read-only analyst role; and retention that leaves the boards alone."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import asyncpg
import psycopg
import pytest

from app.settings import PROJECT_ROOT

LIBRARY = PROJECT_ROOT / "sql" / "analyst"
# Events at controlled times: (learner, lesson or None for a correction, points, time).
SEED = """
insert into scoreboard.lessons values ('l1', 'One', 10), ('l2', 'Two', 20), ('l3', 'Three', 30);
insert into scoreboard.learners (user_id, display_name)
values ('ann', 'Ann'), ('bob', 'Bob'), ('cat', 'Cat'), ('dan', 'Dan');
with d0 as (select date_trunc('day', now(), 'UTC') as d0)
insert into scoreboard.score_events (time, user_id, lesson_id, points, kind, completion_id,
                                     actor, reason)
select t, u, l, p, case when l is null then 'correction' else 'completion' end,
       case when l is null then null else gen_random_uuid() end, 'seed',
       case when l is null then 'seeded correction' end
  from d0, lateral (values
    (d0 - interval '2 days' + interval '10 hours', 'ann', 'l1', 10),
    (d0 - interval '1 day' + interval '17 hours', 'ann', 'l2', 20),
    (d0 - interval '1 day' + interval '19 hours', 'bob', 'l3', 30),
    (d0 - interval '1 day' + interval '9 hours', 'cat', 'l1', 10),
    (d0 - interval '1 day' + interval '10 hours', 'cat', null, -5),
    (d0 + (now() - d0) / 2, 'dan', 'l2', 20)
  ) as e(t, u, l, p);
"""


@pytest.fixture
def analyst(db_url: str) -> Iterator[psycopg.Connection]:
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute(SEED)
        conn.execute("set role scoreboard_analyst")
        yield conn


def run(conn: psycopg.Connection, name: str) -> list[tuple]:
    return [tuple(r) for r in conn.execute((LIBRARY / f"{name}.sql").read_bytes()).fetchall()]


def test_every_library_query_is_tested() -> None:
    tested = {
        "daily_active_learners",
        "points_per_day",
        "lesson_popularity",
        "board_at_instant",
        "biggest_movers_this_week",
    }
    assert {p.stem for p in LIBRARY.glob("*.sql")} == tested


def test_daily_active_learners_and_points_per_day(analyst: psycopg.Connection) -> None:
    active = [count for _, count in run(analyst, "daily_active_learners")]
    points = [(p, n) for _, p, n in run(analyst, "points_per_day")]
    assert active == [1, 3, 1], "ann; ann, bob and cat completed; dan"
    assert points == [(10, 1), (55, 3), (20, 1)], "the correction counts on its day"


def test_lesson_popularity(analyst: psycopg.Connection) -> None:
    assert run(analyst, "lesson_popularity") == [
        ("l1", "One", 2, 20),
        ("l2", "Two", 2, 40),
        ("l3", "Three", 1, 30),
    ]


def test_the_board_at_yesterday_evening(analyst: psycopg.Connection) -> None:
    assert run(analyst, "board_at_instant") == [(1, "ann", "Ann", 30), (2, "cat", "Cat", 5)]


def test_rank_history(analyst: psycopg.Connection) -> None:
    history = analyst.execute(
        "select points, rank from scoreboard.rank_history_v1('ann', 'all', "
        "date_trunc('day', now(), 'UTC') - interval '2 days', now(), interval '1 day')"
    ).fetchall()
    assert history == [(None, None), (10, 1), (30, 1)], "ann reached 30 before bob did"


def test_biggest_movers_this_week(db_url: str) -> None:
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute(
            "insert into scoreboard.learners (user_id, display_name) "
            "values ('ann', 'Ann'), ('bob', 'Bob'), ('cat', 'Cat')"
        )
        conn.execute(
            "with w as (select scoreboard.period_start('week', now()) as ws) "
            "insert into scoreboard.score_events (time, user_id, points, kind, actor, reason) "
            "select t, u, p, 'correction', 'seed', 'seed' from w, lateral (values "
            "(ws - interval '1 day', 'ann', 30), (ws - interval '2 days', 'bob', 20), "
            "(ws + (now() - ws) / 2, 'cat', 50)) as e(t, u, p)"
        )
        conn.execute("set role scoreboard_analyst")
        movers = run(conn, "biggest_movers_this_week")
    assert [(u, then, now, gained) for u, _, then, now, gained in movers] == [
        ("cat", None, 1, 2),
        ("ann", 1, 2, -1),
        ("bob", 2, 3, -1),
    ]


AGGREGATES = ("points_per_learner_hour", "points_per_learner_day", "completions_per_lesson_day")


def test_the_aggregates_exist_with_their_columns(analyst: psycopg.Connection) -> None:
    """Continuous aggregates on the licensed build, plain views on the Apache build: the same
    names, columns and types either way."""
    columns = {
        view: analyst.execute(
            "select attname, format_type(atttypid, atttypmod) from pg_attribute"
            " where attrelid = ('scoreboard.' || %s)::regclass and attnum > 0"
            " order by attnum",
            (view,),
        ).fetchall()
        for view in AGGREGATES
    }
    licence = analyst.execute("select current_setting('timescaledb.license')").fetchone()
    if licence == ("timescale",):
        kinds = analyst.execute(
            "select view_name, 'continuous aggregate' from"
            " timescaledb_information.continuous_aggregates where view_schema = 'scoreboard'"
        ).fetchall()
    else:
        kinds = analyst.execute(
            "select table_name, 'view' from information_schema.views"
            " where table_schema = 'scoreboard' and table_name = any(%s)",
            (list(AGGREGATES),),
        ).fetchall()

    per_learner = [("bucket", "timestamp with time zone"), ("user_id", "text"),
                   ("points", "bigint"), ("events", "bigint")]  # fmt: skip
    assert columns == {
        "points_per_learner_hour": per_learner,
        "points_per_learner_day": per_learner,
        "completions_per_lesson_day": [
            ("bucket", "timestamp with time zone"),
            ("lesson_id", "text"),
            ("completions", "bigint"),
            ("points", "bigint"),
        ],
    }
    kind = "continuous aggregate" if licence == ("timescale",) else "view"
    assert sorted(kinds) == [(view, kind) for view in sorted(AGGREGATES)]


POINTS_FROM_EVENTS = """
select (time at time zone 'UTC')::date, sum(points), count(*)
  from scoreboard.score_events group by 1 order by 1
"""
POINTS_KEPT = "select day, points, events from scoreboard.points_per_day order by day"


def test_points_per_day_are_kept_exact_by_the_scoring_trigger(
    analyst: psycopg.Connection,
) -> None:
    """The per-day view answers what a scan of the events answers, correction included."""
    kept = analyst.execute(POINTS_KEPT).fetchall()
    assert kept == analyst.execute(POINTS_FROM_EVENTS).fetchall()
    assert [(points, events) for _, points, events in kept] == [(10, 1), (55, 4), (20, 1)]


async def test_points_per_day_stay_exact_under_concurrent_writers(db_url: str) -> None:
    """Sessions writing at once add to slots of their own; the sums are still exact."""
    with psycopg.connect(db_url) as setup:
        setup.execute(
            "insert into scoreboard.learners (user_id, display_name) "
            "select 'w' || i, 'Writer ' || i from generate_series(1, 8) i"
        )

    async def writer(i: int) -> None:
        conn = await asyncpg.connect(db_url)
        for k in range(40):
            await conn.execute(
                "insert into scoreboard.score_events (time, user_id, points, kind, actor, "
                "reason) values (now() - make_interval(days => $2), $1, $3, 'correction', "
                "'seed', 'concurrency')",
                f"w{i}",
                k % 3,
                (k % 7) - 3 or 5,
            )
        await conn.close()

    await asyncio.gather(*(writer(i) for i in range(1, 9)))
    with psycopg.connect(db_url) as conn:
        kept = conn.execute(POINTS_KEPT).fetchall()
        slots = conn.execute("select count(*) from scoreboard.points_per_day_slots").fetchone()
        assert kept == conn.execute(POINTS_FROM_EVENTS).fetchall()
    assert sum(events for _, _, events in kept) == 320
    assert slots is not None and slots[0] > 3, "the writers' sessions used slots of their own"


def test_dropping_old_chunks_keeps_totals_and_boards(db_url: str) -> None:
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute(
            "insert into scoreboard.learners (user_id, display_name) "
            "values ('old', 'Old'), ('new', 'New')"
        )
        conn.execute(
            "insert into scoreboard.score_events (time, user_id, points, kind, actor, "
            "reason) values (now() - interval '60 days', 'old', 50, 'correction', "
            "'seed', 'seed'), (now(), 'new', 20, 'correction', 'seed', 'seed')"
        )
        before = conn.execute(
            "select entries, version from scoreboard.boards where board = 'all'"
        ).fetchone()
        dropped = conn.execute((PROJECT_ROOT / "sql" / "retention.sql").read_bytes()).fetchall()
        after = conn.execute(
            "select entries, version from scoreboard.boards where board = 'all'"
        ).fetchone()
        events = conn.execute("select user_id from scoreboard.score_events").fetchall()
        per_day = conn.execute("select sum(points) from scoreboard.points_per_day").fetchone()
    assert len(dropped) == 1
    assert events == [("new",)]
    assert after == before and [e["user_id"] for e in after[0]] == ["old", "new"]
    assert per_day == (70,), "points per day outlive the raw events"


def test_the_analyst_role_cannot_write(analyst: psycopg.Connection) -> None:
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        analyst.execute("delete from scoreboard.score_events")
