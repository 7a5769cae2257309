"""The live stream across processes and at shutdown."""

from __future__ import annotations

import asyncio
import signal
import time
import uuid

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
