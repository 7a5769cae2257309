"""The scoring path inside PostgreSQL: one transaction records the completion, the event,
the totals and, when a top 10 changes, the new board version and its announcement."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Iterator

import psycopg
import pytest

from tests.conftest import listen_to_announcements

RECORD = (
    "select outcome, points, total, rank, ties_before "
    "from scoreboard.record_completion_v2(%s, %s, %s, %s, %s, %s, %s, 100000)"
)
RANK_OF = "select scoreboard.rank_of('all', '-infinity', %s)"
STORE_RANK = "select scoreboard.store_completion_rank_v1(%s, %s)"


@pytest.fixture
def conn(db_url: str, lessons: dict[str, int]) -> Iterator[psycopg.Connection]:
    with psycopg.connect(db_url, autocommit=True) as connection:
        listen_to_announcements(connection)
        yield connection


def record(
    conn: psycopg.Connection,
    learner: str,
    lesson: str,
    completion_id: uuid.UUID | None = None,
    digest: str = "d",
    at: dt.datetime | None = None,
) -> tuple:
    """Records like the service does, with the rank counted in SQL; returns
    (outcome, points, total, rank)."""
    completion_id = completion_id or uuid.uuid4()
    with conn.transaction():
        row = conn.execute(
            RECORD,
            (completion_id, learner, None, lesson, at or dt.datetime.now(dt.UTC), digest, learner),
        ).fetchone()
        assert row is not None
        outcome, points, total, rank, _ = row
        if outcome == "recorded":
            rank = conn.execute(RANK_OF, (learner,)).fetchone()[0]  # type: ignore[index]
            conn.execute(STORE_RANK, (completion_id, rank))
    return outcome, points, total, rank


def test_ties_before_counts_equal_totals_reached_earlier(conn: psycopg.Connection) -> None:
    """With equal points, whoever reached the total first ranks first, then user id."""
    second = dt.datetime.now(dt.UTC).replace(microsecond=0)  # ties are counted per second
    record(conn, "zed", "lesson-2", at=second + dt.timedelta(milliseconds=100))
    record(conn, "amy", "lesson-3", at=second + dt.timedelta(milliseconds=200))
    record(conn, "bob", "lesson-2", at=second + dt.timedelta(milliseconds=300))
    ties = conn.execute(
        "select u, scoreboard.ties_before('all', '-infinity', u) "
        "from unnest(array['zed', 'bob', 'amy']) u"
    ).fetchall()
    assert ties == [("zed", 0), ("bob", 1), ("amy", 0)]


def test_ties_before_leaves_out_banned_learners(conn: psycopg.Connection) -> None:
    """A banned learner who reached the same total earlier no longer ranks before anyone."""
    # One instant for all four, so that the tie goes by user id whatever the clock does.
    at = dt.datetime.now(dt.UTC).replace(microsecond=500000)
    for learner in ("ann", "bob", "cal", "dee"):
        conn.execute(
            "select from scoreboard.record_completion_v2("
            "gen_random_uuid(), %s, null, 'lesson-2', %s, 'd', %s, 100000)",
            (learner, at, learner),
        )
    conn.execute("select scoreboard.set_ban_v1('bob', true, 'test-admin', 'farming')")
    ties = conn.execute(
        "select u, scoreboard.ties_before('all', '-infinity', u) "
        "from unnest(array['ann', 'cal', 'dee']) u"
    ).fetchall()
    assert ties == [("ann", 0), ("cal", 1), ("dee", 2)]


def announcements(conn: psycopg.Connection) -> list[dict]:
    return [json.loads(n.payload) for n in conn.notifies(timeout=0.2, stop_after=100)]


def test_a_completion_records_event_totals_and_announces(conn: psycopg.Connection) -> None:
    """The first completion puts the learner on all three boards, each at version 1."""
    assert record(conn, "ann", "lesson-3") == ("recorded", 30, 30, 1)

    events = conn.execute(
        "select user_id, lesson_id, points, kind from scoreboard.score_events"
    ).fetchall()
    totals = conn.execute(
        "select board, points from scoreboard.board_totals order by board"
    ).fetchall()
    sent = announcements(conn)
    assert events == [("ann", "lesson-3", 30, "completion")]
    assert totals == [("all", 30), ("day", 30), ("week", 30)]
    assert sorted(a["board"] for a in sent) == ["all", "day", "week"]
    assert all(
        a["version"] == 1
        and a["entries"] == [{"rank": 1, "user_id": "ann", "display_name": "ann", "points": 30}]
        for a in sent
    )


def test_points_come_from_the_catalog_and_totals_add_up(conn: psycopg.Connection) -> None:
    """Totals are the sum of the catalog's points; rank follows the order of the board."""
    record(conn, "ann", "lesson-1")
    record(conn, "bob", "lesson-2")
    assert record(conn, "ann", "lesson-5") == ("recorded", 50, 60, 1)
    assert record(conn, "cat", "lesson-2") == ("recorded", 20, 20, 3), (
        "a tie goes to whoever reached the total first"
    )


def test_the_same_request_again_answers_the_first_answer(conn: psycopg.Connection) -> None:
    """A replay records nothing more and returns the first body."""
    key = uuid.uuid4()
    first = record(conn, "ann", "lesson-2", key, digest="same")
    record(conn, "bob", "lesson-4")
    again = record(conn, "ann", "lesson-2", key, digest="same")

    assert first == ("recorded", 20, 20, 1)
    assert again == ("replayed", 20, 20, 1)
    assert conn.execute(
        "select count(*) from scoreboard.score_events where user_id = 'ann'"
    ).fetchone() == (1,)


def test_a_reused_key_with_another_request_is_refused(conn: psycopg.Connection) -> None:
    key = uuid.uuid4()
    record(conn, "ann", "lesson-2", key, digest="first")
    assert record(conn, "ann", "lesson-3", key, digest="second")[0] == "conflicting_request"
    assert conn.execute("select count(*) from scoreboard.score_events").fetchone() == (1,)


def test_a_lesson_counts_once_per_learner(conn: psycopg.Connection) -> None:
    record(conn, "ann", "lesson-2")
    assert record(conn, "ann", "lesson-2")[0] == "already_completed"
    assert conn.execute(
        "select points from scoreboard.board_totals where board = 'all'"
    ).fetchone() == (20,)


def test_an_unknown_lesson_writes_nothing(conn: psycopg.Connection) -> None:
    assert record(conn, "ann", "no-such-lesson")[0] == "unknown_lesson"
    counts = conn.execute(
        "select (select count(*) from scoreboard.score_events), "
        "(select count(*) from scoreboard.completions), "
        "(select count(*) from scoreboard.learners)"
    ).fetchone()
    assert counts == (0, 0, 0)


def test_no_announcement_when_the_top_10_does_not_change(conn: psycopg.Connection) -> None:
    """A learner far below the 10th place changes no board and sends no NOTIFY."""
    for i in range(10):
        record(conn, f"top-{i:02}", "lesson-12")
    announcements(conn)
    version = conn.execute("select version from scoreboard.boards where board = 'all'").fetchone()

    record(conn, "low", "lesson-1")

    assert announcements(conn) == []
    assert (
        conn.execute("select version from scoreboard.boards where board = 'all'").fetchone()
        == version
    )


def test_a_correction_that_lowers_a_leader_is_announced(conn: psycopg.Connection) -> None:
    record(conn, "ann", "lesson-5")
    record(conn, "bob", "lesson-4")
    announcements(conn)

    conn.execute(
        "insert into scoreboard.score_events "
        "(time, user_id, points, kind, actor, reason) "
        "values (now(), 'ann', -20, 'correction', 'admin', 'duplicate lesson')"
    )

    entries = [a["entries"] for a in announcements(conn) if a["board"] == "all"]
    assert entries == [
        [
            {"rank": 1, "user_id": "bob", "display_name": "bob", "points": 40},
            {"rank": 2, "user_id": "ann", "display_name": "ann", "points": 30},
        ]
    ]
