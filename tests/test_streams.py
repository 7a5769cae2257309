"""The live stream across processes and at shutdown."""

from __future__ import annotations

import asyncio
import signal
import socket
import time
import uuid

import asyncpg
import httpx

from tests.conftest import Server, ServerFactory
from tests.sse import EventStream
from tests.test_http import complete


async def test_two_processes_stream_the_same_versions(
    server_factory: ServerFactory, lessons: dict[str, int]
) -> None:
    """A completion posted to one process reaches streams on both, with one version."""
    first, second = server_factory.start(), server_factory.start()
    async with (
        EventStream(f"{first.url}/api/leaderboard/stream") as on_first,
        EventStream(f"{second.url}/api/leaderboard/stream") as on_second,
    ):
        await on_first.next_event()
        await on_second.next_event()
        complete(first, first.token("ann"), "lesson-3")
        from_first, from_second = await asyncio.gather(
            on_first.next_event(timeout=2), on_second.next_event(timeout=2)
        )

    assert from_first.id == from_second.id
    assert from_first.json == from_second.json
    assert from_first.json["entries"][0]["user_id"] == "ann"


async def test_sigterm_with_open_streams_ends_promptly(
    server_factory: ServerFactory, lessons: dict[str, int]
) -> None:
    """Open streams are closed and the process exits within a few seconds."""
    server = server_factory.start()
    streams = [EventStream(f"{server.url}/api/leaderboard/stream") for _ in range(5)]
    for stream in streams:
        await stream.__aenter__()
        await stream.next_event()
    assert server.process is not None

    started = time.monotonic()
    server.process.send_signal(signal.SIGTERM)
    endings = []
    for stream in streams:
        try:
            await stream.next_event(timeout=5)
        except (EOFError, httpx.RemoteProtocolError, httpx.ReadError) as exc:
            endings.append(type(exc).__name__)
        await stream.__aexit__(None, None, None)
    exit_code = await asyncio.to_thread(server.process.wait, 10)
    elapsed = time.monotonic() - started

    assert endings == ["EOFError"] * len(streams), "each stream ended cleanly, not cut off"
    assert elapsed < 5, f"the process took {elapsed:.1f} s to stop"
    assert exit_code in (0, -signal.SIGTERM), "uvicorn re-raises the signal it handled"


async def test_a_quiet_stream_gets_heartbeat_comments(
    server_factory: ServerFactory, lessons: dict[str, int]
) -> None:
    """Proxies keep a stream open only while bytes flow: a comment comes every ping."""
    server = server_factory.start(stream_ping_seconds=0.3)
    async with EventStream(f"{server.url}/api/leaderboard/stream") as stream:
        await stream.next_event()
        started = time.monotonic()
        for _ in range(3):
            await stream.next_comment(timeout=2)
        elapsed = time.monotonic() - started

    assert 0.75 <= elapsed < 3, f"three comments at 0.3 s intervals took {elapsed:.2f} s"


async def test_open_streams_per_address_are_capped(
    server_factory: ServerFactory, lessons: dict[str, int]
) -> None:
    """Past the cap a new stream gets 429 with Retry-After; closing one frees a place."""
    server = server_factory.start(streams_per_address=3)
    url = f"{server.url}/api/leaderboard/stream"
    streams = [EventStream(url) for _ in range(3)]
    for stream in streams:
        await stream.__aenter__()
        await stream.next_event()

    refused = httpx.get(url, timeout=5)
    await streams[0].__aexit__(None, None, None)
    await asyncio.sleep(0.2)
    async with EventStream(url) as again:
        first = await again.next_event()
    for stream in streams[1:]:
        await stream.__aexit__(None, None, None)

    assert refused.status_code == 429 and int(refused.headers["retry-after"]) >= 1
    assert refused.json()["error"]["code"] == "too_many_requests"
    assert first.name == "leaderboard"


def test_metrics_count_completions_streams_and_requests(server: Server) -> None:
    """/metrics tells accepted and refused completions apart, by reason."""
    token = server.token("ann")
    complete(server, token, "lesson-1")
    complete(server, token, "lesson-1")
    complete(server, token, "lesson-404")
    complete(server, "not-a-token", "lesson-2")
    httpx.get(f"{server.url}/api/leaderboard")
    text = httpx.get(f"{server.url}/metrics").text

    for line in (
        'scoreboard_completions_total{outcome="recorded"} 1.0',
        'scoreboard_completions_total{outcome="already_completed"} 1.0',
        'scoreboard_completions_total{outcome="unknown_lesson"} 1.0',
        'scoreboard_completions_total{outcome="unauthorized"} 1.0',
        "scoreboard_listener_connected 1.0",
        "scoreboard_open_streams 0.0",
    ):
        assert line in text
    assert (
        'scoreboard_request_seconds_count{method="GET",route="/api/leaderboard",'
        'status="200"} 1.0' in text
    )


async def test_a_reconnect_with_an_older_version_gets_the_current_board_at_once(
    server: Server,
) -> None:
    complete(server, server.token("ann"), "lesson-1")
    async with EventStream(f"{server.url}/api/leaderboard/stream") as stream:
        old = await stream.next_event()
    complete(server, server.token("bob"), "lesson-2")
    headers = {"Last-Event-ID": old.id or ""}
    async with EventStream(f"{server.url}/api/leaderboard/stream", headers) as again:
        current = await again.next_event(timeout=1)

    assert int(current.id or 0) > int(old.id or 0)
    assert [e["user_id"] for e in current.json["entries"]] == ["bob", "ann"]


async def test_the_database_away_answers_503_with_retry_after_never_500(
    server: Server,
) -> None:
    """While the database restarts, completions get 503 and the stream keeps its board;
    afterwards a client retrying with the same completion_id is counted exactly once."""
    from app import embedded
    from tests.conftest import TEST_DATA_DIR

    cluster = embedded.EmbeddedPostgres(embedded.cluster_root(TEST_DATA_DIR))
    token = server.token("ann")
    key = str(uuid.uuid4())
    async with EventStream(f"{server.url}/api/leaderboard/stream") as stream:
        await stream.next_event()
        await asyncio.to_thread(cluster.stop, "immediate")
        try:
            while_away = complete(server, token, "lesson-4", key)
            board_away = httpx.get(f"{server.url}/api/leaderboard")
        finally:
            await asyncio.to_thread(cluster.start)
        statuses = [while_away.status_code]
        deadline = time.monotonic() + 10
        while statuses[-1] != 201 and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
            statuses.append(complete(server, token, "lesson-4", key).status_code)
        change = await stream.next_event(timeout=5)

    assert while_away.status_code == 503 and int(while_away.headers["retry-after"]) >= 1
    assert board_away.status_code == 503
    assert set(statuses) <= {503, 201} and statuses[-1] == 201
    assert change.json["entries"][0] == {
        "rank": 1,
        "user_id": "ann",
        "display_name": "ann",
        "points": 40,
    }
    again = complete(server, token, "lesson-4", key)
    assert again.status_code == 200


def resident_bytes(pid: int) -> int:
    """The resident memory of a process, from /proc."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise LookupError("no VmRSS line")


def open_streams(server: Server) -> float:
    for line in httpx.get(f"{server.url}/metrics").text.splitlines():
        if line.startswith("scoreboard_open_streams "):
            return float(line.split()[1])
    raise LookupError("no scoreboard_open_streams metric")


def stalled_stream(server: Server) -> socket.socket:
    """Opens a stream whose client reads nothing after the request: a tiny receive window
    makes the server's sends block as soon as the kernel buffers fill."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1024)
    sock.connect(("127.0.0.1", server.port))
    sock.sendall(
        b"GET /api/leaderboard/stream HTTP/1.1\r\n"
        b"Host: scoreboard\r\nAccept: text/event-stream\r\n\r\n"
    )
    return sock


async def test_a_stalled_client_is_dropped_and_slows_no_one(
    server_factory: ServerFactory, db_url: str, lessons: dict[str, int]
) -> None:
    """A client that stops reading is dropped after the send timeout; a reading client
    keeps getting every newest board meanwhile, and server memory stays flat."""
    server = server_factory.start(stream_send_timeout_seconds=1.0)
    assert server.process is not None
    conn = await asyncpg.connect(db_url)
    leaders = [f"learner-{i}" for i in range(10)]
    for user in leaders:
        await conn.fetchrow(
            "select * from scoreboard.record_completion_v2("
            "gen_random_uuid(), $1, $2, 'lesson-1', now(), 'd', $1, 100000)",
            user,
            user.ljust(64, "x"),
        )
    stalled = stalled_stream(server)
    try:
        async with EventStream(f"{server.url}/api/leaderboard/stream") as reader:
            await reader.next_event()
            await asyncio.sleep(0.2)
            assert open_streams(server) == 2
            memory_before = resident_bytes(server.process.pid)

            changes, sent_bytes, dropped_after = 0, 0, None
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and (dropped_after is None or changes < 3000):
                for _ in range(100):
                    await conn.execute(
                        "insert into scoreboard.score_events "
                        "(time, user_id, points, kind, actor, reason) "
                        "values (now(), $1, 1, 'correction', 'test-admin', 'stall test')",
                        leaders[changes % 10],
                    )
                    changes += 1
                latest = await reader.next_event(timeout=2)
                while int(latest.id or 0) < await conn.fetchval(
                    "select version from scoreboard.boards where board = 'all'"
                ):
                    latest = await reader.next_event(timeout=2)
                sent_bytes += 100 * len(latest.data)
                if dropped_after is None and open_streams(server) == 1:
                    dropped_after = changes
            memory_after = resident_bytes(server.process.pid)
    finally:
        stalled.close()
        await conn.close()

    assert dropped_after is not None, f"the stalled client was still open after {changes}"
    assert memory_after - memory_before < sent_bytes / 2, (
        f"memory grew {memory_after - memory_before} bytes while {sent_bytes} were sent"
    )


async def test_a_completion_in_flight_at_sigterm_finishes_and_is_recorded(
    server: Server, db_url: str
) -> None:
    """SIGTERM while a completion waits in the database: it still gets its 201, is
    recorded once, and the process then exits."""
    assert server.process is not None
    holder = await asyncpg.connect(db_url)
    await holder.execute("select pg_advisory_lock(7426, hashtext('ann'))")
    key = str(uuid.uuid4())
    try:
        in_flight = asyncio.create_task(
            asyncio.to_thread(complete, server, server.token("ann"), "lesson-5", key)
        )
        await asyncio.sleep(0.5)
        assert not in_flight.done(), "the completion waits for the learner's lock"
        server.process.send_signal(signal.SIGTERM)
        await asyncio.sleep(0.5)
        await holder.execute("select pg_advisory_unlock(7426, hashtext('ann'))")
        response = await in_flight
        exit_code = await asyncio.to_thread(server.process.wait, 10)
        recorded = await holder.fetchval(
            "select count(*) from scoreboard.score_events where user_id = 'ann'"
        )
    finally:
        await holder.close()

    assert response.status_code == 201
    assert response.json()["completion_id"] == key
    assert recorded == 1
    assert exit_code in (0, -signal.SIGTERM)
