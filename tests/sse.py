"""A small server-sent-events reader for the tests, on a real HTTP connection."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any

import httpx


@dataclass(frozen=True)
class Event:
    name: str
    id: str | None
    data: str

    @property
    def json(self) -> Any:
        return json.loads(self.data)


class EventStream:
    """Opens a stream and hands out its events one by one."""

    def __init__(self, url: str, headers: dict[str, str] | None = None) -> None:
        self.url = url
        self.headers = headers or {}
        self.status_code = 0
        self.content_type = ""
        self.comments = 0

    async def __aenter__(self) -> EventStream:
        self._client = httpx.AsyncClient(timeout=httpx.Timeout(5, read=None))
        self._context = self._client.stream("GET", self.url, headers=self.headers)
        response = await self._context.__aenter__()
        self.status_code = response.status_code
        self.content_type = response.headers.get("content-type", "")
        self._lines = response.aiter_lines()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._context.__aexit__(None, None, None)
        await self._client.aclose()

    async def next_event(self, timeout: float = 5.0) -> Event:
        """Returns the next named event, skipping comments and bare retry hints."""
        async with asyncio.timeout(timeout):
            fields: dict[str, str] = {}
            async for line in self._lines:
                if line.startswith(":"):
                    self.comments += 1
                elif line:
                    key, _, value = line.partition(":")
                    fields[key] = value.removeprefix(" ")
                elif "event" in fields or "data" in fields:
                    return Event(
                        fields.get("event", "message"), fields.get("id"), fields.get("data", "")
                    )
                else:
                    fields = {}
        raise EOFError("the stream ended")

    async def next_comment(self, timeout: float = 5.0) -> None:
        """Returns after the next comment line (a heartbeat), skipping anything else."""
        async with asyncio.timeout(timeout):
            async for line in self._lines:
                if line.startswith(":"):
                    self.comments += 1
                    return
        raise EOFError("the stream ended")
