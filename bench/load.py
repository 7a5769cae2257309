"""A small asyncio HTTP/1.1 client for load: keep-alive POSTs and many open SSE streams.

Lighter than a general client, so that one process can hold thousands of streams and
measure arrival times without becoming the bottleneck itself.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from dataclasses import dataclass, field


@dataclass
class HttpConnection:
    """One keep-alive connection that posts JSON and reads the status of each answer."""

    host: str
    port: int
    reader: asyncio.StreamReader | None = None
    writer: asyncio.StreamWriter | None = None

    async def post(self, path: str, body: bytes, token: str) -> int:
        """Posts a JSON body; returns the status code."""
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        self.writer.write(
            f"POST {path} HTTP/1.1\r\nHost: {self.host}\r\nAuthorization: Bearer {token}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
        status_line = await self.reader.readline()
        length = 0
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":")[1])
        await self.reader.readexactly(length)
        return int(status_line.split()[1])

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


# In every board JSON the database writes, an entry's keys come in this order.
PROBE_POINTS = re.compile(rb'"points":(\d+),"user_id":"probe"')


@dataclass
class Stream:
    """One open SSE stream; records when each total of the learner `probe` arrived."""

    arrivals: dict[int, float] = field(default_factory=dict)
    events: int = 0
    writer: asyncio.StreamWriter | None = None

    async def open(self, host: str, port: int, path: str) -> None:
        """Connects, then records arrival times until the stream ends or is cancelled."""
        reader, self.writer = await asyncio.open_connection(host, port, limit=1 << 20)
        self.writer.write(f"GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
        await self.writer.drain()
        while line := await reader.readline():
            if line.startswith(b"data: "):
                self.events += 1
                match = PROBE_POINTS.search(line)
                if match:
                    self.arrivals.setdefault(int(match.group(1)), time.perf_counter())

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


def completion_body(completion_id: str, lesson_id: str) -> bytes:
    return json.dumps({"completion_id": completion_id, "lesson_id": lesson_id}).encode()


def percentile(values: list[float], share: float) -> float:
    """Returns the value below which `share` of the values fall (nearest rank)."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(share * len(ordered) + 0.5) - 1))
    return ordered[index]
