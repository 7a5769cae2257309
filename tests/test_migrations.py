"""The migration step builds the whole schema on an empty database, and is repeatable."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from psycopg import sql
from yoyo import get_backend, read_migrations

from app.migrate import MIGRATIONS_DIR, migrate, yoyo_url
from tests.conftest import Services, database_url


@contextmanager
def empty_database(services: Services) -> Iterator[str]:
    name = f"scoreboard_empty_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(services.admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
    try:
        yield database_url(services.admin_url, name)
    finally:
        with psycopg.connect(services.admin_url, autocommit=True) as conn:
            conn.execute(sql.SQL("drop database {} with (force)").format(sql.Identifier(name)))


def test_migrations_build_the_schema_on_an_empty_database(services: Services) -> None:
    """Every table, the hypertable and the scoring trigger exist after one migrate."""
    with empty_database(services) as url:
        applied = migrate(url)
        assert applied == [
            "0001_catalog_and_learners",
            "0002_score_events",
            "0003_completions",
            "0004_boards",
            "0005_corrections_and_bans",
            "0006_total_versions",
            "0007_analyst_aggregates",
            "0008_points_per_day",
            "0009_banned_learners_index",
            "0010_announcement_channel",
            "0011_aggregate_refresh_windows",
        ]
        with psycopg.connect(url) as conn:
            tables = {
                r[0]
                for r in conn.execute(
                    "select table_name from information_schema.tables "
                    "where table_schema = 'scoreboard'"
                )
            }
            hypertables = [
                r[0]
                for r in conn.execute(
                    "select hypertable_name from timescaledb_information.hypertables"
                )
            ]
            triggers = {
                r[0] for r in conn.execute("select tgname from pg_trigger where not tgisinternal")
            }
            boards = conn.execute(
                "select board, version, entries from scoreboard.boards order by board"
            ).fetchall()
            channel = conn.execute("select name from scoreboard.announcement_channel").fetchall()
        assert {
            "lessons",
            "learners",
            "score_events",
            "completions",
            "board_totals",
            "boards",
        } <= tables
        assert hypertables == ["score_events"]
        assert "score_events_apply" in triggers
        assert boards == [("all", 0, []), ("day", 0, []), ("week", 0, [])]
        assert len(channel) == 1 and re.fullmatch(r"scoreboard_[0-9a-f]{32}", channel[0][0])
        assert migrate(url) == [], "a second migrate applies nothing"


def test_points_per_day_count_the_events_recorded_before_their_migration(
    services: Services,
) -> None:
    """A database upgraded with events already in it starts its per-day points from them."""
    with empty_database(services) as url:
        backend = get_backend(yoyo_url(url))
        with backend.lock():
            before_0008 = read_migrations(str(MIGRATIONS_DIR)).filter(lambda m: m.id < "0008")
            backend.apply_migrations(before_0008)
        backend.connection.close()
        with psycopg.connect(url) as conn:
            conn.execute(
                "insert into scoreboard.score_events (time, user_id, points, kind, actor, "
                "reason) values (now() - interval '2 days', 'ann', 30, 'correction', 'x', 'x'), "
                "(now() - interval '2 days', 'bob', -5, 'correction', 'x', 'x'), "
                "(now(), 'ann', 10, 'correction', 'x', 'x')"
            )

        assert migrate(url)[:2] == ["0008_points_per_day", "0009_banned_learners_index"]
        with psycopg.connect(url) as conn:
            kept = conn.execute(
                "select points, events from scoreboard.points_per_day order by day"
            ).fetchall()
    assert kept == [(25, 2), (10, 1)]
