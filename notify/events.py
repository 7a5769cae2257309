"""Typed board events, parsed from NOTIFY payloads and database reads, encoded once for SSE."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from sse_starlette.event import ServerSentEvent

BOARDS = ("all", "week", "day")


class MalformedEvent(ValueError):
    """A payload that is not a board event; the listener logs and drops it."""


@dataclass(frozen=True)
class BoardSnapshot:
    """One version of a board's top 10, with its SSE frame encoded once for every client."""

    board: str
    version: int
    body: str
    frame: bytes = field(repr=False)

    @classmethod
    def from_json(cls, text: str) -> BoardSnapshot:
        """Parses the board JSON of the database (GET /api/leaderboard shape)."""
        data = _load(text)
        if "period_start" not in data or "entries" not in data:
            raise MalformedEvent("a board snapshot needs period_start and entries")
        body = json.dumps(
            {key: data[key] for key in ("board", "period_start", "version", "entries")},
            separators=(",", ":"),
        )
        version = data["version"]
        frame = ServerSentEvent(body, event="leaderboard", id=str(version), sep="\n").encode()
        return cls(data["board"], version, body, frame)


@dataclass(frozen=True)
class BoardChanged:
    """A change too large to carry its entries: the board must be read again."""

    board: str
    version: int


def parse_notification(payload: str) -> BoardSnapshot | BoardChanged:
    """Turns a NOTIFY payload into a typed event; raises MalformedEvent otherwise."""
    data = _load(payload)
    if data.get("type") != "leaderboard":
        raise MalformedEvent(f"unknown event type {data.get('type')!r}")
    if "entries" in data:
        return BoardSnapshot.from_json(payload)
    return BoardChanged(data["board"], data["version"])


def _load(text: str) -> dict[str, Any]:
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise MalformedEvent(f"payload is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise MalformedEvent("payload is not a JSON object")
    if data.get("board") not in BOARDS:
        raise MalformedEvent(f"unknown board {data.get('board')!r}")
    version = data.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 0:
        raise MalformedEvent(f"bad version {version!r}")
    if "entries" in data and not isinstance(data["entries"], list):
        raise MalformedEvent("entries is not a list")
    return data
