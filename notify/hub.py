"""The latest snapshot of each board, and every open stream waiting for the next one.

Each stream holds no queue: it reads the newest snapshot when it wakes, so a slow client
skips versions instead of building a backlog, and per-client memory stays bounded.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

from notify.events import BOARDS, BoardSnapshot

log = logging.getLogger(__name__)


class BoardHub:
    """Holds the newest snapshot per board and wakes the streams that follow it."""

    def __init__(self) -> None:
        self._latest: dict[str, BoardSnapshot] = {}
        self._changed = {board: asyncio.Event() for board in BOARDS}
        self._closed = False
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
        woken, self._changed[snapshot.board] = self._changed[snapshot.board], asyncio.Event()
        woken.set()
        log.debug("board_published board=%s version=%d", snapshot.board, snapshot.version)
        return True

    def close(self) -> None:
        """Ends every stream: used at shutdown."""
        self._closed = True
        for event in self._changed.values():
            event.set()

    async def follow(
        self, board: str, seen_version: int | None = None, idle_seconds: float | None = None
    ) -> AsyncIterator[BoardSnapshot | None]:
        """Yields each newer snapshot of a board, starting with the current one if unseen,
        and None whenever `idle_seconds` pass without one (time for a heartbeat)."""
        self.streams += 1
        try:
            while not self._closed:
                changed = self._changed[board]
                snapshot = self._latest.get(board)
                if snapshot is not None and snapshot.version != seen_version:
                    seen_version = snapshot.version
                    yield snapshot
                    continue
                try:
                    async with asyncio.timeout(idle_seconds):
                        await changed.wait()
                except TimeoutError:
                    yield None
        finally:
            self.streams -= 1
