"""Real faults: Redis stopped and restarted, and a listening connection that stalls
without a reset."""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import time
from collections.abc import Iterator

import httpx
import pytest

from app.embedded import free_port
from tests.conftest import ServerFactory
from tests.sse import EventStream
from tests.test_http import complete


class PrivateRedis:
    """A redis-server of this test's own, which it may stop and start on one port."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 5
        while (
            subprocess.run(
                ["redis-cli", "-p", str(self.port), "ping"], capture_output=True
            ).returncode
            != 0
        ):
            assert time.monotonic() < deadline, "redis-server did not start"
            time.sleep(0.05)

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(5)


@pytest.fixture
def private_redis() -> Iterator[PrivateRedis]:
    server = PrivateRedis()
    server.start()
    yield server
    server.stop()


def test_redis_stopped_and_restarted(
    server_factory: ServerFactory, lessons: dict[str, int], private_redis: PrivateRedis
) -> None:
    """While Redis is away completions get 503 and reads go on; once it is back,
    completions are accepted again and ranks are right (the lost cache is rebuilt)."""
    server = server_factory.start(redis_url=private_redis.url)
    assert complete(server, server.token("ann"), "lesson-5").status_code == 201

    private_redis.stop()
    away = complete(server, server.token("bob"), "lesson-9")
    board = httpx.get(f"{server.url}/api/leaderboard")
    private_redis.start()
    statuses = []
    deadline = time.monotonic() + 10
    while not statuses or (statuses[-1] == 503 and time.monotonic() < deadline):
        statuses.append(complete(server, server.token("bob"), "lesson-9").status_code)
        time.sleep(0.1)
    cat = complete(server, server.token("cat"), "lesson-7")

    assert away.status_code == 503 and int(away.headers["retry-after"]) >= 1
    assert board.status_code == 200 and board.json()["entries"][0]["user_id"] == "ann"
    assert statuses[-1] == 201
    assert cat.json()["rank"] == 2, "bob 90, cat 70, ann 50"


async def reconnects(client: httpx.AsyncClient, url: str) -> float:
    """The listener's reconnections so far, from /metrics."""
    for line in (await client.get(f"{url}/metrics")).text.splitlines():
        if line.startswith("scoreboard_listener_reconnects_total "):
            return float(line.split()[1])
    return 0.0


class StallingProxy:
    """A TCP proxy to PostgreSQL that can stop forwarding the listener's connections
    without closing anything, as a dead network path does. It tells them apart by the
    application name in their startup message (sent in clear after the refused SSL
    request, on loopback)."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = free_port()
        self.flowing: list[asyncio.Event] = []

    async def serve(self) -> asyncio.Server:
        return await asyncio.start_server(self._connect, "127.0.0.1", self.port)

    async def _connect(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        upstream_reader, upstream_writer = await asyncio.open_connection(
            "127.0.0.1", self.target_port
        )
        flowing = asyncio.Event()
        flowing.set()
        await asyncio.gather(
            self._pipe(reader, upstream_writer, flowing),
            self._pipe(upstream_reader, writer, flowing),
        )

    async def _pipe(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, flowing: asyncio.Event
    ) -> None:
        with contextlib.suppress(OSError, ConnectionError):
            while data := await reader.read(65536):
                if b"scoreboard-listener" in data:  # the startup message names the client
                    self.flowing.append(flowing)
                await flowing.wait()
                writer.write(data)
                await writer.drain()

    def stall_listening_connections(self) -> None:
        for flowing in self.flowing:
            flowing.clear()


async def test_a_stalled_listening_connection_is_replaced_within_10_s(
    server_factory: ServerFactory, lessons: dict[str, int], db_url: str
) -> None:
    """No reset arrives, only silence: the probe notices, the listener reconnects, and the
    stream carries a completion committed after the stall."""
    database_port = int(db_url.split("@")[1].split(":")[1].split("/")[0])
    proxy = StallingProxy(database_port)
    listening = await proxy.serve()
    proxied_url = db_url.replace(f":{database_port}/", f":{proxy.port}/")
    server = await asyncio.to_thread(
        server_factory.start, database_url=proxied_url, listener_probe_seconds=1.0
    )

    async with EventStream(f"{server.url}/api/leaderboard/stream") as stream:
        await stream.next_event()
        stalled_at = time.monotonic()
        proxy.stall_listening_connections()
        async with httpx.AsyncClient() as client:
            while await reconnects(client, server.url) < 1:
                assert time.monotonic() - stalled_at < 10, "the stall was never noticed"
                await asyncio.sleep(0.1)
            noticed = time.monotonic() - stalled_at
            while (await client.get(f"{server.url}/readyz")).status_code != 200:
                assert time.monotonic() - stalled_at < 20, "the listener never came back"
                await asyncio.sleep(0.1)
            posted = await client.post(
                f"{server.url}/api/completions",
                json={
                    "completion_id": "9b1f2f4e-2f1e-4c55-8f0e-3d6a1c1f5a10",
                    "lesson_id": "lesson-3",
                },
                headers={"Authorization": f"Bearer {server.token('ann')}"},
                timeout=10,
            )
        change = await stream.next_event(timeout=5)
    listening.close()

    assert noticed < 10
    assert posted.status_code == 201
    assert change.json["entries"][0]["user_id"] == "ann"


async def test_a_database_restart_under_load_loses_and_doubles_nothing(
    server_factory: ServerFactory, db_url: str
) -> None:
    """Clients keep posting, retrying each completion with its own completion_id until it
    is acknowledged, while the database restarts: no answer is a 500, every completion is
    acknowledged in the end, and each is recorded exactly once."""
    import uuid

    import psycopg

    from app import embedded
    from tests.conftest import TEST_DATA_DIR

    lessons_each = 150  # enough that the restart comes in the middle
    with psycopg.connect(db_url) as conn:
        for i in range(lessons_each):
            conn.execute("insert into scoreboard.lessons values (%s, 'Load', 1)", (f"r{i}",))
    server = await asyncio.to_thread(server_factory.start, rate_limit_per_learner=1000)
    cluster = embedded.EmbeddedPostgres(embedded.cluster_root(TEST_DATA_DIR))
    statuses: list[int] = []
    under_load = asyncio.Event()

    async def learner(name: str, client: httpx.AsyncClient) -> int:
        headers = {"Authorization": f"Bearer {server.token(name)}"}
        acknowledged = 0
        for i in range(lessons_each):
            body = {"completion_id": str(uuid.uuid4()), "lesson_id": f"r{i}"}
            while True:
                answer = await client.post(
                    f"{server.url}/api/completions", json=body, headers=headers
                )
                statuses.append(answer.status_code)
                if answer.status_code in (200, 201):
                    acknowledged += 1
                    if statuses.count(201) >= 30:
                        under_load.set()
                    break
                await asyncio.sleep(0.05)
        return acknowledged

    async def restart() -> None:
        await under_load.wait()
        await asyncio.to_thread(cluster.stop, "immediate")
        await asyncio.sleep(1)
        await asyncio.to_thread(cluster.start)

    async with httpx.AsyncClient(timeout=15) as client:
        results = await asyncio.gather(
            restart(), *(learner(f"load-{n}", client) for n in range(3))
        )
    with psycopg.connect(db_url) as conn:
        recorded = conn.execute(
            "select count(*), count(distinct completion_id) from scoreboard.score_events"
        ).fetchone()

    assert 500 not in statuses
    assert 503 in statuses, "the restart happened while completions were posted"
    assert set(statuses) <= {200, 201, 503}
    assert results[1:] == [lessons_each] * 3
    assert recorded == (3 * lessons_each, 3 * lessons_each)
