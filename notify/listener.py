"""One dedicated LISTEN connection per process, kept alive and re-established on loss.

Deliberate choices:
  * The connection is never borrowed from a pool: a pooled connection loses its LISTEN.
  * The channel's name is a secret of the database (migration 0010): NOTIFY needs no
    privilege, so a well-known channel would take forged boards from any role.
  * After every (re)connect it LISTENs first, then re-reads every board, so that nothing
    committed while it was away is missed (NOTIFY replays nothing).
  * A dead connection with no TCP reset is caught by a probe query with a timeout; so is
    one that dies while connecting.
  * The probe rolls day and week boards over to their new period when one has ended (the
    database's clock decides), and it runs just after each UTC midnight.
  * Any other failure is logged and followed by a reconnect: streams must never freeze.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import random

import asyncpg

from app.queries import query
from notify.events import BoardChanged, BoardSnapshot, MalformedEvent, parse_notification
from notify.hub import BoardHub

log = logging.getLogger(__name__)
CONNECT_SECONDS = 10  # to connect, LISTEN and read every board


def seconds_to_next_day(now: dt.datetime) -> float:
    """Returns the seconds from `now` to the next UTC midnight (when day and week roll)."""
    tomorrow = (now.astimezone(dt.UTC) + dt.timedelta(days=1)).date()
    midnight = dt.datetime.combine(tomorrow, dt.time(), tzinfo=dt.UTC)
    return (midnight - now).total_seconds()


class BoardListener:
    """Feeds a BoardHub from NOTIFY; `connected` tells readiness."""

    def __init__(
        self,
        database_url: str,
        hub: BoardHub,
        probe_seconds: float = 5.0,
        server_settings: dict[str, str] | None = None,
    ) -> None:
        self._database_url = database_url
        self._hub = hub
        self._probe_seconds = probe_seconds
        self._server_settings = server_settings or {"application_name": "scoreboard-listener"}
        self._task: asyncio.Task[None] | None = None
        self._conn: asyncpg.Connection | None = None
        self._lost = asyncio.Event()
        self._reread_task: asyncio.Task[None] | None = None
        self._reread_again = False
        self.connected = False
        self.reconnects = 0
        self.notifications = 0

    def start(self) -> None:
        """Starts listening in the background."""
        self._task = asyncio.create_task(self._run(), name="board-listener")

    async def stop(self) -> None:
        """Stops listening and closes the connection, then any re-read it started."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._close()  # no notification can start another re-read now
        if self._reread_task is not None:
            self._reread_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reread_task

    async def _run(self) -> None:
        delay = 0.1
        while True:
            try:
                await self._connect()
                delay = 0.1
                await self._watch()
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError) as exc:
                log.warning("listener_lost error=%s retry_in=%.1fs", type(exc).__name__, delay)
            except Exception:
                log.exception("listener_failed retry_in=%.1fs", delay)
            self.connected = False
            await self._close()
            await asyncio.sleep(delay * random.uniform(0.8, 1.2))  # noqa: S311 jitter only
            delay = min(delay * 2, 1.0)
            self.reconnects += 1

    async def _connect(self) -> None:
        self._lost = asyncio.Event()
        async with asyncio.timeout(CONNECT_SECONDS):
            conn = await asyncpg.connect(self._database_url, server_settings=self._server_settings)
            self._conn = conn
            conn.add_termination_listener(lambda _conn: self._lost.set())
            channel = await conn.fetchval(query("announcement_channel"))
            await conn.add_listener(channel, self._on_notification)
            await conn.execute(query("roll_boards"))
            await self._reread(conn)
        self.connected = True
        log.info("listener_connected reconnects=%d", self.reconnects)

    async def _watch(self) -> None:
        """Probes the connection and rolls boards over until the connection is lost."""
        conn = self._conn
        assert conn is not None
        while not self._lost.is_set():
            until_midnight = seconds_to_next_day(dt.datetime.now(dt.UTC))
            wait = min(self._probe_seconds, until_midnight + 0.01)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._lost.wait(), wait)
            if self._lost.is_set():
                break
            await conn.execute(query("roll_boards"), timeout=self._probe_seconds)
        raise OSError("listening connection closed")

    async def _reread(self, conn: asyncpg.Connection) -> None:
        for text in await conn.fetch(query("all_boards"), timeout=self._probe_seconds):
            self._hub.publish(BoardSnapshot.from_json(text[0]))

    def _on_notification(self, conn: object, pid: int, channel: str, payload: str) -> None:
        self.notifications += 1
        try:
            event = parse_notification(payload)
        except MalformedEvent as exc:
            log.warning("notification_dropped reason=%s", exc)
            return
        if isinstance(event, BoardChanged):
            self._reread_soon()
        else:
            self._hub.publish(event)

    def _reread_soon(self) -> None:
        """Re-reads every board on a connection of its own; changes announced meanwhile are
        covered by one more read after it, not by one connection each."""
        if self._reread_task is not None and not self._reread_task.done():
            self._reread_again = True
            return
        self._reread_task = asyncio.get_running_loop().create_task(self._reread_quietly())

    async def _reread_quietly(self) -> None:
        self._reread_again = True
        while self._reread_again:
            self._reread_again = False
            try:
                async with asyncio.timeout(self._probe_seconds):
                    conn = await asyncpg.connect(
                        self._database_url, server_settings=self._server_settings
                    )
                    try:
                        await self._reread(conn)
                    finally:
                        await conn.close()
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError) as exc:
                log.warning("board_reread_failed error=%s", type(exc).__name__)

    async def _close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None and not conn.is_closed():
            conn.terminate()
