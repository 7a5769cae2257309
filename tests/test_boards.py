"""Day and week boards across their boundaries, and the rank route with its neighbours."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator

import httpx
import psycopg
import pytest

from tests.conftest import Server, ServerFactory, listen_to_announcements

EVENT = (
    "insert into scoreboard.score_events (time, user_id, points, kind, actor, reason) "
    "values (%s, %s, %s, 'correction', 'test', 'controlled time')"
)


@pytest.fixture
def conn(db_url: str) -> Iterator[psycopg.Connection]:
    with psycopg.connect(db_url, autocommit=True) as connection:
        for learner in ("ann", "bob", "cat", "dan", "eve", "fay"):
            connection.execute(
                "insert into scoreboard.learners (user_id, display_name) values (%s, %s)",
                (learner, learner.title()),
            )
        listen_to_announcements(connection)
        yield connection


def board(conn: psycopg.Connection, name: str) -> tuple[str, int, list[tuple[str, int]]]:
    row = conn.execute(
        "select period_start::text, version, entries from scoreboard.boards where board = %s",
        (name,),
    ).fetchone()
    assert row is not None
    return row[0], row[1], [(e["user_id"], e["points"]) for e in row[2]]


def test_a_new_day_starts_empty_and_late_events_keep_to_their_day(
    conn: psycopg.Connection,
) -> None:
    today = conn.execute("select date_trunc('day', now(), 'UTC')").fetchone()[0]
    tomorrow = today + dt.timedelta(days=1)
    conn.execute(EVENT, (today + dt.timedelta(hours=23, minutes=59), "ann", 30))
    _, before_roll, entries_today = board(conn, "day")
    conn.notifies(timeout=0.1, stop_after=10)  # drain

    conn.execute("select scoreboard.roll_boards_v1(%s)", (tomorrow + dt.timedelta(seconds=1),))
    period, after_roll, entries_new = board(conn, "day")
    announced = [json.loads(n.payload) for n in conn.notifies(timeout=0.2, stop_after=10)]
    conn.execute(EVENT, (today + dt.timedelta(hours=23, minutes=59, seconds=30), "bob", 50))
    late = board(conn, "day")
    conn.execute(EVENT, (tomorrow + dt.timedelta(seconds=5), "cat", 10))

    assert entries_today == [("ann", 30)]
    assert (entries_new, after_roll) == ([], before_roll + 1)
    assert period.startswith(tomorrow.strftime("%Y-%m-%d"))
    assert {(a["board"], len(a["entries"])) for a in announced} >= {("day", 0)}
    assert late == (period, after_roll, []), "a late event leaves the new day alone"
    assert board(conn, "day")[2] == [("cat", 10)]
    assert board(conn, "all")[2] == [("bob", 50), ("ann", 30), ("cat", 10)]


def test_weeks_are_iso_weeks_in_utc(conn: psycopg.Connection) -> None:
    starts = conn.execute(
        "select scoreboard.period_start('week', t)::text from unnest(array["
        "'2026-11-29 23:59:59+00', '2026-11-30 00:00:00+00', "
        "'2026-11-30 00:30:00+01']::timestamptz[]) t"
    ).fetchall()
    assert [s[0][:10] for s in starts] == ["2026-11-23", "2026-11-30", "2026-11-23"]


def test_ties_go_to_whoever_reached_the_total_first_then_user_id(
    conn: psycopg.Connection, server_factory: ServerFactory
) -> None:
    start = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
    for learner, points, minute in [
        ("fay", 20, 5),
        ("eve", 20, 1),
        ("dan", 20, 1),
        ("cat", 40, 9),
        ("bob", 10, 0),
        ("ann", 20, 3),
    ]:
        conn.execute(EVENT, (start + dt.timedelta(minutes=minute), learner, points))
    server = server_factory.start()

    api = httpx.get(f"{server.url}/api/leaderboard").json()["entries"]
    sql = conn.execute(
        "select user_id from scoreboard.board_top('all', '-infinity', 10)"
    ).fetchall()
    rank = httpx.get(f"{server.url}/api/users/ann/rank", params={"neighbours": 2}).json()

    order = ["cat", "dan", "eve", "ann", "fay", "bob"]
    assert [e["user_id"] for e in api] == order == [r[0] for r in sql]
    assert [e["rank"] for e in api] == [1, 2, 3, 4, 5, 6]
    assert (rank["rank"], rank["points"]) == (4, 20)
    assert [(e["rank"], e["user_id"]) for e in rank["above"]] == [(3, "eve"), (2, "dan")]
    assert [(e["rank"], e["user_id"]) for e in rank["below"]] == [(5, "fay"), (6, "bob")]


def test_the_rank_route_answers_unknown_and_pointless_learners(server: Server) -> None:
    unknown = httpx.get(f"{server.url}/api/users/nobody/rank")
    bad = httpx.get(f"{server.url}/api/users/<script>/rank")
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "not_found"
    assert bad.status_code in (400, 404)
