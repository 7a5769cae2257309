"""Database roles: the service's role cannot rewrite history; the analyst role only reads."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import psycopg
import pytest
from psycopg import errors

from app.queries import SQL_DIR

WRITES = {
    "update an event": "update scoreboard.score_events set points = 1000",
    "delete an event": "delete from scoreboard.score_events",
    "insert an event": "insert into scoreboard.score_events (time, user_id, points, kind, actor)"
    " values (now(), 'ann', 1000, 'correction', 'ann')",
    "write a total": "update scoreboard.board_totals set points = 1000",
    "insert a total": "insert into scoreboard.board_totals "
    "values ('all', '-infinity', 'x', 1, now())",
    "rewrite a board": "update scoreboard.boards set version = 0",
    "add a lesson directly": "insert into scoreboard.lessons values ('free', 'Free', 10000)",
    "unban directly": "update scoreboard.learners set banned_at = null",
    "forget a completion": "delete from scoreboard.completions",
    "truncate events": "truncate scoreboard.score_events",
}


@pytest.fixture
def as_role(db_url: str, lessons: dict[str, int]) -> Iterator[psycopg.Connection]:
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute(
            "select scoreboard.record_completion_v2("
            "%s, 'ann', null, 'lesson-3', now(), 'd', 'ann', 1000)",
            (uuid.uuid4(),),
        )
        yield conn


@pytest.mark.parametrize("role", ["scoreboard_app", "scoreboard_analyst"])
@pytest.mark.parametrize("write", list(WRITES))
def test_neither_role_can_rewrite_scores(
    as_role: psycopg.Connection, role: str, write: str
) -> None:
    as_role.execute(f"set role {role}")
    with pytest.raises(errors.InsufficientPrivilege):
        as_role.execute(WRITES[write])


def test_the_app_role_scores_only_through_the_functions(as_role: psycopg.Connection) -> None:
    as_role.execute("set role scoreboard_app")
    row = as_role.execute(
        "select outcome, points from scoreboard.record_completion_v2("
        "%s, 'bob', null, 'lesson-2', now(), 'd', 'bob', 1000)",
        (uuid.uuid4(),),
    ).fetchone()
    assert row == ("recorded", 20)
    with pytest.raises(errors.InsufficientPrivilege):
        as_role.execute("select scoreboard.refresh_board_v1('all', '-infinity')")


def test_the_analyst_role_reads_everything_and_calls_no_writer(
    as_role: psycopg.Connection,
) -> None:
    as_role.execute("set role scoreboard_analyst")
    for table in (
        "score_events",
        "completions",
        "learners",
        "lessons",
        "board_totals",
        "boards",
        "corrections",
    ):
        as_role.execute(f"select count(*) from scoreboard.{table}").fetchone()
    top = as_role.execute(
        "select user_id from scoreboard.board_top('all', '-infinity', 10)"
    ).fetchall()
    assert top == [("ann",)]
    for writer in (
        "record_completion_v2(gen_random_uuid(), 'x', null, 'lesson-1', now(), 'd', 'x', 1000)",
        "set_ban_v1('ann', true, 'x', 'x')",
        "upsert_lesson_v1('free', 'Free', 10000)",
        "roll_boards_v1()",
    ):
        with pytest.raises(errors.InsufficientPrivilege):
            as_role.execute(f"select scoreboard.{writer}")


def test_no_security_definer_function_is_the_analysts_even_one_added_later(
    as_role: psycopg.Connection,
) -> None:
    """Functions that act as the owner are refused to analysts by rule, not by a list."""
    as_role.execute(
        "create function scoreboard.record_completion_v99() returns void language sql "
        "security definer as 'select'"
    )
    as_role.execute((SQL_DIR / "090_roles.sql").read_text().encode())
    callable_by = as_role.execute(
        "select p.oid::regprocedure::text,"
        " has_function_privilege('scoreboard_analyst', p.oid, 'execute'),"
        " has_function_privilege('scoreboard_app', p.oid, 'execute')"
        " from pg_proc p where p.pronamespace = 'scoreboard'::regnamespace and p.prosecdef"
    ).fetchall()

    assert callable_by and not any(analyst for _, analyst, _ in callable_by), callable_by
    app = {name.split("(")[0] for name, _, app in callable_by if app}
    assert app == {
        f"scoreboard.{name}"
        for name in (
            "record_completion_v2",
            "store_completion_rank_v1",
            "store_completion_rank_v2",
            "record_correction_v1",
            "set_ban_v1",
            "upsert_lesson_v1",
            "roll_boards_v1",
        )
    }
