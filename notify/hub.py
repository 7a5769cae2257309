"""The latest snapshot of each board, and every open stream waiting for the next one.

Each stream holds no queue: it reads the newest snapshot when it wakes, so a slow client
skips versions instead of building a backlog, and per-client memory stays bounded.

Each waiting stream parks one future of its own in a set per board: waking 10,000 streams
resolves 10,000 futures, and a stream that stops waiting (heartbeat due, client gone)
leaves its set in constant time. A shared asyncio.Event would remove its waiter from a
list of every stream instead.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any

from notify.events import BOARDS, BoardSnapshot

log = logging.getLogger(__name__)


def _resolve(waiter: asyncio.Future[bool], changed: bool) -> None:
    if not waiter.done():
        waiter.set_result(changed)


class BoardHub:
    """Holds the newest snapshot per board and wakes the streams that follow it."""

    def __init__(self) -> None:
        self._latest: dict[str, BoardSnapshot] = {}
        self._waiting: dict[str, set[asyncio.Future[bool]]] = {board: set() for board in BOARDS}
        self.closed = False
        self.streams = 0

    def latest(self, board: str) -> BoardSnapshot | None:
        """Returns the newest known snapshot of a board, if any."""
        return self._latest.get(board)

    def publish(self, snapshot: BoardSnapshot) -> bool:
        """Keeps a snapshot newer than the known one and wakes its streams; True if kept."""
        known = self._latest.get(snapshot.board)
        if known is not None and snapshot.version <= known.version:
            return False
        self._latest[snapshot.board] = snapshot
        self._wake(snapshot.board)
        log.debug("board_published board=%s version=%d", snapshot.board, snapshot.version)
        return True

    def close(self) -> None:
        """Ends every stream: used at shutdown."""
        self.closed = True
        for board in BOARDS:
            self._wake(board)

    def _wake(self, board: str) -> None:
        waiting, self._waiting[board] = self._waiting[board], set()
        for waiter in waiting:
            _resolve(waiter, True)

    async def follow(
        self,
        board: str,
        seen_version: int | None = None,
        idle_seconds: float | None = None,
        until: asyncio.Future[Any] | None = None,
    ) -> AsyncIterator[BoardSnapshot | None]:
        """Yields each newer snapshot of a board, starting with the current one if unseen,
        and None whenever `idle_seconds` pass without one (time for a heartbeat). Ends when
        the hub closes or `until` (say, the client's disconnect) is done."""
        self.streams += 1
        try:
            while not self.closed and not (until is not None and until.done()):
                snapshot = self._latest.get(board)
                if snapshot is not None and snapshot.version != seen_version:
                    seen_version = snapshot.version
                    yield snapshot
                elif not await self._next_change(board, idle_seconds, until):
                    yield None
        finally:
            self.streams -= 1

    async def _next_change(
        self, board: str, idle_seconds: float | None, until: asyncio.Future[Any] | None
    ) -> bool:
        """Waits for a change of the board, the hub's close or `until`; False if
        `idle_seconds` passed first."""
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[bool] = loop.create_future()
        waiting = self._waiting[board]
        waiting.add(waiter)
        timer = loop.call_later(idle_seconds, _resolve, waiter, False) if idle_seconds else None

        def ended(_: object) -> None:
            _resolve(waiter, True)

        if until is not None:
            until.add_done_callback(ended)
        try:
            return await waiter
        finally:
            waiting.discard(waiter)
            if timer is not None:
                timer.cancel()
            if until is not None:
                until.remove_done_callback(ended)
