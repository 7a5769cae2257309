"""HTTP routes: completions, boards, the live stream, health and the page."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import re
import uuid
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, Literal

import asyncpg
import msgspec
from litestar import Request, Response, get, post
from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler
from litestar.params import Parameter
from litestar.types import ASGIApp, Receive, Scope, Send

from app.auth import SCOPE_ADMIN, SCOPE_WRITE, SUBJECT_PATTERN, Principal
from app.db import database_errors
from app.errors import AlreadyCompleted, NotFound, TooManyRequests, Unprocessable
from app.limits import client_address
from app.queries import query
from app.state import Runtime
from notify.stream import LiveStream

log = logging.getLogger(__name__)
Board = Literal["all", "week", "day"]
LESSON_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$"
LessonId = Annotated[str, msgspec.Meta(pattern=LESSON_PATTERN)]
LearnerId = Annotated[str, msgspec.Meta(pattern=SUBJECT_PATTERN)]
FUTURE_LEEWAY = dt.timedelta(seconds=5)
VERSION_PATTERN = re.compile(r"[0-9]{1,18}")  # a bigint, in ASCII digits


class CompletionIn(msgspec.Struct, forbid_unknown_fields=True):
    """A finished lesson: the idempotency key, the lesson and optionally when it ended."""

    completion_id: uuid.UUID
    lesson_id: LessonId
    completed_at: dt.datetime | None = None
    user_id: LearnerId | None = None


def runtime(request: ASGIConnection) -> Runtime:
    """Returns the process's shared parts (pool, hub, verifier, limiter)."""
    return request.app.state.runtime


Guard = Callable[[ASGIConnection, BaseRouteHandler], Awaitable[None]]


def bearer(scope: str) -> Guard:
    """A guard that verifies the bearer token before the body is read and needs `scope`."""

    async def guard(connection: ASGIConnection, _: BaseRouteHandler) -> None:
        verifier = runtime(connection).verifier
        principal = await verifier.verify(connection.headers.get("authorization"))
        principal.require(scope)
        connection.state.principal = principal

    return guard


def request_digest(learner: str, data: CompletionIn) -> str:
    """Fingerprints what a completion asks for, to tell a replay from a reused key."""
    stamp = data.completed_at.isoformat() if data.completed_at else ""
    return hashlib.sha256(f"{learner}\n{data.lesson_id}\n{stamp}".encode()).hexdigest()


def check_completed_at(completed_at: dt.datetime | None, max_age_hours: int) -> None:
    """Refuses a completion time without a zone, in the future or older than allowed."""
    if completed_at is None:
        return
    if completed_at.tzinfo is None:
        raise Unprocessable("completed_at must include a time zone, e.g. 2026-01-31T12:00:00Z")
    now = dt.datetime.now(dt.UTC)
    if completed_at > now + FUTURE_LEEWAY:
        raise Unprocessable(f"completed_at {completed_at.isoformat()} is in the future")
    if completed_at < now - dt.timedelta(hours=max_age_hours):
        raise Unprocessable(
            f"completed_at {completed_at.isoformat()} is older than {max_age_hours} hours"
        )


@post("/api/completions", guards=[bearer(SCOPE_WRITE)], status_code=201)
async def post_completion(request: Request, data: CompletionIn) -> Response[dict[str, object]]:
    """Records a completed lesson once and answers with its points, total and rank."""
    rt = runtime(request)
    principal: Principal = request.state.principal
    learner = data.user_id or principal.subject
    if data.user_id is not None and data.user_id != principal.subject:
        principal.require(SCOPE_ADMIN)
    check_completed_at(data.completed_at, rt.settings.completed_at_max_age_hours)
    await rt.limiter.check(learner, client_address(request, rt.trusted_proxies))

    name = principal.name if learner == principal.subject else None
    with database_errors():
        async with rt.pool.acquire() as conn:
            # One statement, committed on its own: the learner's locks are held no longer
            # than the recording itself. The rank is counted and stored after the commit.
            row = await conn.fetchrow(
                query("record_completion"),
                data.completion_id,
                learner,
                name,
                data.lesson_id,
                data.completed_at or dt.datetime.now(dt.UTC),
                request_digest(learner, data),
                principal.subject,
                rt.settings.max_points_per_hour,
            )
            assert row is not None
            rank = await answered_rank(rt, conn, learner, data.completion_id, row)
    request.app.state.metrics.completions.labels(row["outcome"]).inc()
    request.state.completion_counted = True
    return completion_answer(row["outcome"], data, learner, row, rank)


async def answered_rank(
    rt: Runtime,
    conn: asyncpg.Connection,
    learner: str,
    completion_id: uuid.UUID,
    row: asyncpg.Record,
) -> int | None:
    """The all-time rank a completion answers with: counted once, then stored, so that the
    same request again answers the same body. A stored 0 means counted, and none (banned)."""
    if row["outcome"] == "recorded":
        totals = json.loads(row["totals"])
        await rt.ranks.apply(learner, totals)
        rank = await rank_of_new_total(rt, conn, learner, row, totals)
    elif row["outcome"] == "replayed" and row["rank"] is None:
        # The first request has not stored its rank yet, or never will (its process
        # stopped): count it now; whichever of the two stores first is the answer.
        rank = await rt.ranks.rank(conn, "all", "-infinity", learner)
    else:
        return row["rank"] or None
    return await conn.fetchval(query("store_completion_rank"), completion_id, rank) or None


async def rank_of_new_total(
    rt: Runtime,
    conn: asyncpg.Connection,
    learner: str,
    row: asyncpg.Record,
    totals: list[dict[str, Any]],
) -> int | None:
    """The learner's all-time rank with the new total, counted just after it was committed."""
    mine = next((t for t in totals if t["board"] == "all"), None)
    if mine is None or not mine["ranked"]:
        return None
    above = await rt.ranks.count_above("all", "-infinity", mine["points"], mine["reached_at"])
    if above is None:
        rank = await conn.fetchval(query("rank_of"), "all", "-infinity", learner)
        return int(rank) if rank is not None else None
    return 1 + above + int(row["ties_before"])


def seen_version(last_event_id: str) -> int | None:
    """The board version a reconnecting browser last saw, or None for anything else."""
    return int(last_event_id) if VERSION_PATTERN.fullmatch(last_event_id) else None


def completion_answer(
    outcome: str, data: CompletionIn, learner: str, row: asyncpg.Record, rank: int | None
) -> Response[dict[str, object]]:
    """Maps the database's outcome of a completion to its HTTP answer."""
    if outcome == "unknown_lesson":
        raise Unprocessable(f"lesson {data.lesson_id!r} is not in the catalog")
    if outcome == "already_completed":
        raise AlreadyCompleted(f"learner {learner!r} already completed lesson {data.lesson_id!r}")
    if outcome == "conflicting_request":
        raise Unprocessable(
            f"completion_id {data.completion_id} was already used for another request"
        )
    if outcome == "over_hourly_cap":
        log.warning(
            "suspicious_completion learner=%s lesson=%s points=%s points_last_hour=%s",
            learner,
            data.lesson_id,
            row["points"],
            row["total"],
        )
        raise Unprocessable(
            f"learner {learner!r} cannot earn {row['points']} more points within the hour"
        )
    body = {
        "completion_id": str(data.completion_id),
        "user_id": learner,
        "lesson_id": data.lesson_id,
        "points": row["points"],
        "total": row["total"],
        "rank": rank,
    }
    return Response(body, status_code=201 if outcome == "recorded" else 200)


@get("/api/leaderboard")
async def get_leaderboard(
    request: Request,
    board: Board = "all",
    limit: Annotated[int, Parameter(ge=1, le=100)] = 10,
) -> Response[bytes]:
    """Returns a board's leading learners, ranked, with the board's version."""
    with database_errors():
        text = await runtime(request).pool.fetchval(query("board_page"), board, limit)
    return Response(text.encode(), media_type="application/json")


@get("/api/leaderboard/stream")
async def stream_leaderboard(request: Request, board: Board = "all") -> ASGIApp:
    """Streams a board: the current top 10 at once, then every change, as SSE."""
    rt = runtime(request)
    address = client_address(request, rt.trusted_proxies)
    if rt.streams_by_address.get(address, 0) >= rt.settings.streams_per_address:
        raise TooManyRequests(
            f"this address already has {rt.settings.streams_per_address} open streams",
            retry_after=10,
        )
    stream = LiveStream(
        rt.hub,
        board,
        seen_version(request.headers.get("last-event-id", "")),
        rt.settings.stream_ping_seconds,
        rt.settings.stream_send_timeout_seconds,
    )
    return counted_stream(rt.streams_by_address, address, stream)


def counted_stream(counts: dict[str, int], address: str, stream: ASGIApp) -> ASGIApp:
    """Wraps a stream so that its address's count of open streams covers its whole life."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        counts[address] = counts.get(address, 0) + 1
        try:
            await stream(scope, receive, send)
        finally:
            counts[address] -= 1
            if not counts[address]:
                del counts[address]

    return app


@get("/api/users/{user_id:str}/rank")
async def get_rank(
    request: Request,
    user_id: Annotated[str, Parameter(pattern=SUBJECT_PATTERN)],
    board: Board = "all",
    neighbours: Annotated[int, Parameter(ge=0, le=10)] = 1,
) -> dict[str, object]:
    """A learner's points and rank on a board, with the learners just above and below."""
    rt = runtime(request)
    with database_errors():
        async with rt.pool.acquire() as conn:
            info = await conn.fetchrow(query("learner_on_board"), board, user_id)
            if info is None or info["display_name"] is None:
                raise NotFound(f"no learner {user_id!r}")
            rank = await rt.ranks.rank(conn, board, info["period_key"], user_id)
            near = await conn.fetch(
                query("neighbours"), board, info["period_key"], user_id, neighbours
            )
    sides: dict[str, list[dict[str, object]]] = {"above": [], "below": []}
    for row in near:
        step = -row["distance"] if row["side"] == "above" else row["distance"]
        sides[row["side"]].append(
            {
                "rank": rank + step if rank is not None else None,
                "user_id": row["user_id"],
                "display_name": row["display_name"],
                "points": row["points"],
            }
        )
    return {
        "board": board,
        "period_start": info["period_start"],
        "version": info["version"],
        "user_id": user_id,
        "display_name": info["display_name"],
        "points": info["points"] or 0,
        "rank": rank,
        **sides,
    }


@get("/healthz")
async def healthz() -> dict[str, str]:
    """Answers while the process is up."""
    return {"status": "ok"}


@get("/readyz")
async def readyz(request: Request) -> Response[dict[str, object]]:
    """Answers 200 when the database answers and the listener is connected, else 503."""
    rt = runtime(request)
    database = True
    try:
        with database_errors():
            await rt.pool.fetchval(query("ping"), timeout=2)
    except Exception:
        database = False
    ready = database and rt.listener.connected
    body: dict[str, object] = {
        "database": database,
        "listener": rt.listener.connected,
        "status": "ready" if ready else "not_ready",
    }
    return Response(body, status_code=200 if ready else 503)
