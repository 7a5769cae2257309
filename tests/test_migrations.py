"""The migration step builds the whole schema on an empty database, and is repeatable."""

from __future__ import annotations

import uuid

import psycopg
from psycopg import sql

from app.migrate import migrate
from tests.conftest import Services, database_url


def test_migrations_build_the_schema_on_an_empty_database(services: Services) -> None:
    """Every table, the hypertable and the scoring trigger exist after one migrate."""
    name = f"scoreboard_empty_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(services.admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
    url = database_url(services.admin_url, name)
    try:
        applied = migrate(url)
        assert applied == [
            "0001_catalog_and_learners",
            "0002_score_events",
            "0003_completions",
            "0004_boards",
            "0005_corrections_and_bans",
            "0006_total_versions",
            "0007_analyst_aggregates",
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
        assert migrate(url) == [], "a second migrate applies nothing"
    finally:
        with psycopg.connect(services.admin_url, autocommit=True) as conn:
            conn.execute(sql.SQL("drop database {} with (force)").format(sql.Identifier(name)))
