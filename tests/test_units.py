"""Pure functions: payload parsing, names, settings, query files, completion checks."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import re
import uuid

import pytest

from app.auth import clean_display_name
from app.errors import SettingsError, Unprocessable
from app.queries import parse_queries, psycopg_query
from app.routes import CompletionIn, check_completed_at, request_digest, seen_version
from app.settings import Settings
from notify.events import BoardChanged, BoardSnapshot, MalformedEvent, parse_notification
from notify.hub import BoardHub


def board_json(version: int, board: str = "all") -> str:
    return json.dumps(
        {
            "type": "leaderboard",
            "board": board,
            "period_start": None,
            "version": version,
            "entries": [{"rank": 1, "user_id": "ann", "display_name": "Ann", "points": 5}],
        }
    )


def test_a_full_notification_becomes_a_snapshot_with_its_frame() -> None:
    snapshot = parse_notification(board_json(7))
    assert isinstance(snapshot, BoardSnapshot)
    assert (snapshot.board, snapshot.version) == ("all", 7)
    assert snapshot.frame.startswith(b"id: 7\nevent: leaderboard\ndata: {")
    assert snapshot.frame.endswith(b"\n\n")
    assert "type" not in json.loads(snapshot.body)


def test_a_notification_without_entries_asks_for_a_reread() -> None:
    payload = json.dumps({"type": "leaderboard", "board": "day", "version": 3})
    assert parse_notification(payload) == BoardChanged("day", 3)


@pytest.mark.parametrize(
    "payload",
    [
        "not json",
        "[]",
        '{"type": "other", "board": "all", "version": 1}',
        '{"type": "leaderboard", "board": "month", "version": 1}',
        '{"type": "leaderboard", "board": "all", "version": -1}',
        '{"type": "leaderboard", "board": "all", "version": true}',
        '{"type": "leaderboard", "board": "all", "version": 1, "entries": {}}',
        '{"type": "leaderboard", "board": "all", "version": 1, "entries": []}',
    ],
)
def test_malformed_notifications_are_refused(payload: str) -> None:
    with pytest.raises(MalformedEvent):
        parse_notification(payload)


async def test_the_hub_keeps_only_newer_versions_and_skips_for_slow_streams() -> None:
    hub = BoardHub()
    stream = hub.follow("all")
    hub.publish(BoardSnapshot.from_json(board_json(1)))
    assert (await anext(stream)).version == 1
    hub.publish(BoardSnapshot.from_json(board_json(2)))
    hub.publish(BoardSnapshot.from_json(board_json(3)))
    assert not hub.publish(BoardSnapshot.from_json(board_json(2)))
    assert (await anext(stream)).version == 3, "a slow stream gets the newest, no backlog"
    hub.close()
    with pytest.raises(StopAsyncIteration):
        await anext(stream)


async def test_an_idle_stream_is_told_to_send_a_heartbeat() -> None:
    hub = BoardHub()
    hub.publish(BoardSnapshot.from_json(board_json(1)))
    stream = hub.follow("all", seen_version=1, idle_seconds=0.05)
    assert await asyncio.wait_for(anext(stream), 1) is None
    hub.publish(BoardSnapshot.from_json(board_json(2)))
    snapshot = await asyncio.wait_for(anext(stream), 1)
    assert snapshot is not None and snapshot.version == 2


async def test_a_stream_whose_client_left_ends_and_stops_waiting() -> None:
    hub = BoardHub()
    hub.publish(BoardSnapshot.from_json(board_json(1)))
    gone: asyncio.Future[object] = asyncio.get_running_loop().create_future()
    stream = hub.follow("all", seen_version=1, idle_seconds=60, until=gone)
    waiting = asyncio.ensure_future(anext(stream))
    await asyncio.sleep(0.01)
    assert hub.streams == 1

    gone.set_result(None)
    with pytest.raises(StopAsyncIteration):
        await asyncio.wait_for(waiting, 1)
    assert hub.streams == 0


@pytest.mark.parametrize(
    ("raw", "name"),
    [
        ("  Ann   Lee ", "Ann Lee"),
        ("A\x00nn\nLee", "Ann Lee"),
        ("x" * 100, "x" * 64),
        ("", None),
        ("\x01\x02", None),
        (42, None),
        (None, None),
    ],
)
def test_display_names_are_plain_bounded_text(raw: object, name: str | None) -> None:
    assert clean_display_name(raw) == name


def test_settings_read_from_the_environment() -> None:
    settings = Settings.from_env(
        {
            "SCOREBOARD_PORT": "9000",
            "DATABASE_URL": "postgresql://x",
            "SCOREBOARD_JWT_ALGORITHMS": "HS256, RS256",
            "SCOREBOARD_JWT_JWKS_URL": "https://login.invalid/jwks.json",
        }
    )
    assert (settings.port, settings.database_url) == (9000, "postgresql://x")
    assert settings.jwt_algorithms == ("HS256", "RS256")


def test_kubernetes_service_links_are_not_taken_for_settings() -> None:
    links = {
        "SCOREBOARD_SERVICE_HOST": "10.0.0.1",
        "SCOREBOARD_SERVICE_PORT": "8000",
        "SCOREBOARD_PORT_8000_TCP": "tcp://10.0.0.1:8000",
        "SCOREBOARD_PORT_8000_TCP_ADDR": "10.0.0.1",
    }
    assert Settings.from_env(links).port == 8000
    with pytest.raises(SettingsError, match="enableServiceLinks: false"):
        Settings.from_env({**links, "SCOREBOARD_PORT": "tcp://10.0.0.1:8000"})


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"SCOREBOARD_PORT": "eighty"}, "SCOREBOARD_PORT='eighty' is not a valid int"),
        ({"SCOREBOARD_PORT": "0"}, "SCOREBOARD_PORT must be at least 1"),
        ({"SCOREBOARD_JWT_ALGORITHMS": "none"}, "SCOREBOARD_JWT_ALGORITHMS has ['none']"),
        ({"SCOREBOARD_JWT_SECRET": "short"}, "at least 32 characters"),
        ({"SCOREBOARD_STREAM_PING_SECONDS": "0"}, "must be between 0 and 3600"),
        ({"SCOREBOARD_RATE_LIMIT_REDIS_DOWN": "ignore"}, "choose refuse, allow or local"),
        ({"SCOREBOARD_TRUSTED_PROXIES": "10.0.0.0/33"}, "not an address or network"),
        (
            {"SCOREBOARD_PROT": "80"},
            "not a setting of the service (did you mean SCOREBOARD_PORT?)",
        ),
        ({"SCOREBOARD_COLOUR": "blue"}, "SCOREBOARD_COLOUR is not a setting of the service;"),
    ],
)
def test_bad_settings_fail_with_a_message_naming_them(env: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=re.escape(message)):
        Settings.from_env(env)


def test_query_files_are_split_by_name() -> None:
    text = "-- header\n-- name: one\nselect $1;\n\n-- name: two\nselect $1, $2;\n"
    assert parse_queries(text) == {"one": "select $1;", "two": "select $1, $2;"}
    assert psycopg_query("upsert_lesson").count("%s") == 3


def test_the_digest_tells_a_replay_from_a_reused_key() -> None:
    key = uuid.uuid4()
    same = request_digest("ann", CompletionIn(key, "lesson-1"))
    assert same == request_digest("ann", CompletionIn(key, "lesson-1"))
    assert same != request_digest("bob", CompletionIn(key, "lesson-1"))
    assert same != request_digest("ann", CompletionIn(key, "lesson-2"))
    new_year = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    assert same != request_digest("ann", CompletionIn(key, "lesson-1", new_year))


@pytest.mark.parametrize(
    ("header", "version"),
    [
        ("", None),
        ("42", 42),
        ("0", 0),
        ("-1", None),
        ("4 2", None),
        ("\u00b2", None),  # a superscript two: a digit to str.isdigit, not to int()
        ("\uff11\uff12", None),  # fullwidth digits
        ("9" * 19, None),
    ],
)
def test_only_a_plain_version_in_last_event_id_counts(header: str, version: int | None) -> None:
    """Anything but a bigint in ASCII digits is a fresh connect, never an error."""
    assert seen_version(header) == version


def test_completion_times_are_bounded() -> None:
    now = dt.datetime.now(dt.UTC)
    check_completed_at(None, 72)
    check_completed_at(now - dt.timedelta(hours=71), 72)
    for bad in (
        now + dt.timedelta(minutes=1),
        now - dt.timedelta(hours=73),
        dt.datetime(2026, 1, 1),
    ):
        with pytest.raises(Unprocessable):
            check_completed_at(bad, 72)


def test_the_client_address_is_the_socket_unless_a_trusted_proxy_forwards() -> None:
    import ipaddress
    from types import SimpleNamespace

    from app.limits import client_address

    def connection(peer: str, forwarded: str = "") -> object:
        headers = {"x-forwarded-for": forwarded} if forwarded else {}
        return SimpleNamespace(client=SimpleNamespace(host=peer), headers=headers)

    proxies = (ipaddress.ip_network("10.0.0.0/8"),)
    assert client_address(connection("203.0.113.9", "1.2.3.4"), proxies) == "203.0.113.9"
    assert client_address(connection("10.0.0.2", "1.2.3.4"), ()) == "10.0.0.2"
    assert client_address(connection("10.0.0.2", "1.2.3.4, 10.0.0.7"), proxies) == "1.2.3.4"
    assert client_address(connection("10.0.0.2", "spoofed, 5.6.7.8"), proxies) == "5.6.7.8"
    assert client_address(connection("10.0.0.2", "not-an-ip"), proxies) == "10.0.0.2"
    assert client_address(connection("10.0.0.2"), proxies) == "10.0.0.2"


def test_log_records_become_one_json_object_with_event_and_fields() -> None:
    import logging

    from app.logs import JsonFormatter

    record = logging.LogRecord(
        "notify.listener",
        logging.WARNING,
        __file__,
        1,
        "listener_lost error=%s retry_in=%.1fs",
        ("OSError", 0.4),
        None,
    )
    line = json.loads(JsonFormatter().format(record))
    assert line["event"] == "listener_lost"
    assert (line["error"], line["retry_in"], line["level"]) == ("OSError", "0.4s", "warning")
    assert line["logger"] == "notify.listener" and "message" not in line


def test_free_text_in_a_log_line_is_kept_and_never_replaces_the_level() -> None:
    import logging

    from app.logs import JsonFormatter

    message = "notification_dropped reason=unknown event type 'x' level=critical"
    record = logging.LogRecord("notify.listener", logging.WARNING, __file__, 1, message, (), None)
    line = json.loads(JsonFormatter().format(record))

    assert (line["event"], line["level"], line["message"]) == (
        "notification_dropped",
        "warning",
        message,
    )
