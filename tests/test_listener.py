"""Losing the LISTEN connection is normal: the listener reconnects, re-reads the boards,
and open streams carry on with the correct board."""

from __future__ import annotations

import asyncio
import datetime as dt

import psycopg

from notify.listener import seconds_to_next_day
from tests.conftest import Server
from tests.sse import EventStream
from tests.test_http import complete


def terminate_listeners(db_url: str) -> int:
    with psycopg.connect(db_url, autocommit=True) as conn:
        rows = conn.execute(
            "select pg_terminate_backend(pid) from pg_stat_activity "
            "where application_name = 'scoreboard-listener' and datname = current_database()"
        ).fetchall()
    return len(rows)


async def test_the_stream_recovers_after_the_listener_backend_is_terminated(
    server: Server,
) -> None:
    """A completion committed while the listener is away still reaches the open stream."""
    complete(server, server.token("ann"), "lesson-2")
    async with EventStream(f"{server.url}/api/leaderboard/stream") as stream:
        before = await stream.next_event()
        assert terminate_listeners(server.settings.database_url) == 1
        missed = complete(server, server.token("bob"), "lesson-5")
        after = await stream.next_event(timeout=5)

    assert missed.status_code == 201
    assert int(after.id or 0) > int(before.id or 0)
    assert [(e["user_id"], e["points"]) for e in after.json["entries"]] == [
        ("bob", 50),
        ("ann", 20),
    ]


async def test_readiness_follows_the_listener(server: Server) -> None:
    """/readyz answers 503 while the listener is away and 200 once it is back."""
    import httpx

    terminate_listeners(server.settings.database_url)
    statuses = []
    async with httpx.AsyncClient() as client:
        for _ in range(60):
            statuses.append((await client.get(f"{server.url}/readyz")).status_code)
            if statuses[-1] == 200 and 503 in statuses:
                break
            await asyncio.sleep(0.02)
    assert 503 in statuses and statuses[-1] == 200


def test_boards_roll_at_the_next_utc_midnight() -> None:
    late = dt.datetime(2026, 3, 1, 23, 59, 30, tzinfo=dt.UTC)
    east = dt.datetime(2026, 3, 2, 1, 0, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    assert seconds_to_next_day(late) == 30
    assert seconds_to_next_day(east) == 3600


async def test_an_announcement_without_entries_makes_the_listener_reread_the_board(
    server: Server,
) -> None:
    """A board too big for NOTIFY is announced by version alone; a burst of them ends with
    the stream showing the board as the database has it."""
    import json

    import psycopg

    complete(server, server.token("ann"), "lesson-2")
    async with EventStream(f"{server.url}/api/leaderboard/stream") as stream:
        before = await stream.next_event()
        with psycopg.connect(server.settings.database_url, autocommit=True) as conn:
            channel = conn.execute("select name from scoreboard.announcement_channel").fetchone()
            for _ in range(5):
                version = conn.execute(
                    "update scoreboard.boards set version = version + 1, entries ="
                    " jsonb_set(entries, '{0,display_name}', to_jsonb('Ann ' || version))"
                    " where board = 'all' returning version"
                ).fetchone()[0]
                changed = {"type": "leaderboard", "board": "all", "version": version}
                conn.execute("select pg_notify(%s, %s)", (channel[0], json.dumps(changed)))
        seen = [await stream.next_event()]
        while int(seen[-1].id or 0) < version:
            seen.append(await stream.next_event())

    assert int(before.id or 0) + 5 == version
    assert seen[-1].json["entries"][0]["display_name"] == f"Ann {version - 1}"
