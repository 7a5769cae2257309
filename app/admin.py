"""Admin routes (scope scores:admin): the lesson catalog, corrections, bans."""

from __future__ import annotations

import hashlib
import json
import logging
import uuid
from typing import Annotated

import msgspec
from litestar import Request, Response, delete, post, put
from litestar.params import Parameter

from app.auth import SCOPE_ADMIN, SUBJECT_PATTERN, Principal
from app.db import database_errors
from app.errors import NotFound, Unprocessable
from app.queries import query
from app.routes import LESSON_PATTERN, bearer, runtime

log = logging.getLogger(__name__)
# Plain text only: PostgreSQL refuses NUL, and no control character belongs in a reason.
PLAIN_TEXT = r"^[^\x00-\x1f\x7f]+$"
Reason = Annotated[str, msgspec.Meta(min_length=1, max_length=500, pattern=PLAIN_TEXT)]
LearnerPath = Annotated[str, Parameter(pattern=SUBJECT_PATTERN)]


class LessonIn(msgspec.Struct, forbid_unknown_fields=True):
    """A lesson of the catalog: its title and the points it is worth."""

    title: Annotated[str, msgspec.Meta(min_length=1, max_length=200, pattern=PLAIN_TEXT)]
    points: Annotated[int, msgspec.Meta(ge=1, le=10000)]


class CorrectionIn(msgspec.Struct, forbid_unknown_fields=True):
    """Signed points for a learner, why, and the key that makes it count once."""

    correction_id: uuid.UUID
    user_id: Annotated[str, msgspec.Meta(pattern=SUBJECT_PATTERN)]
    points: Annotated[int, msgspec.Meta(ge=-100000, le=100000)]
    reason: Reason


class BanIn(msgspec.Struct, forbid_unknown_fields=True):
    """Why a learner is banned."""

    reason: Reason


@put("/api/admin/lessons/{lesson_id:str}", guards=[bearer(SCOPE_ADMIN)])
async def put_lesson(
    request: Request,
    data: LessonIn,
    lesson_id: Annotated[str, Parameter(pattern=LESSON_PATTERN)],
) -> dict[str, object]:
    """Adds a lesson to the catalog or changes its title and points."""
    with database_errors():
        row = await runtime(request).pool.fetchrow(
            query("upsert_lesson"), lesson_id, data.title, data.points
        )
    log.info(
        "lesson_saved lesson=%s points=%d actor=%s",
        lesson_id,
        data.points,
        request.state.principal.subject,
    )
    assert row is not None, "the upsert returns its row"
    return dict(row)


@post("/api/admin/corrections", guards=[bearer(SCOPE_ADMIN)], status_code=201)
async def post_correction(request: Request, data: CorrectionIn) -> Response[dict[str, object]]:
    """Files a compensating event (once per correction_id) and answers the new total."""
    if data.points == 0:
        raise Unprocessable("a correction must change the total: points cannot be 0")
    principal: Principal = request.state.principal
    digest = hashlib.sha256(f"{data.user_id}\n{data.points}\n{data.reason}".encode()).hexdigest()
    with database_errors():
        row = await runtime(request).pool.fetchrow(
            query("record_correction"),
            data.correction_id,
            data.user_id,
            data.points,
            data.reason,
            principal.subject,
            digest,
        )
    assert row is not None
    if row["outcome"] == "unknown_learner":
        raise NotFound(f"no learner {data.user_id!r}")
    if row["outcome"] == "conflicting_request":
        raise Unprocessable(
            f"correction_id {data.correction_id} was already used for another correction"
        )
    if row["outcome"] == "recorded":
        await refresh_rank_cache(request, data.user_id)
    log.info(
        "correction_recorded learner=%s points=%d actor=%s",
        data.user_id,
        data.points,
        principal.subject,
    )
    body = {
        "correction_id": str(data.correction_id),
        "user_id": data.user_id,
        "points": data.points,
        "total": row["total"],
    }
    return Response(body, status_code=201 if row["outcome"] == "recorded" else 200)


@put("/api/admin/learners/{user_id:str}/ban", guards=[bearer(SCOPE_ADMIN)])
async def ban_learner(request: Request, user_id: LearnerPath, data: BanIn) -> dict[str, object]:
    """Bans a learner: they leave every board at once; their events stay."""
    return await _set_ban(request, user_id, True, data.reason)


@delete("/api/admin/learners/{user_id:str}/ban", guards=[bearer(SCOPE_ADMIN)], status_code=200)
async def unban_learner(request: Request, user_id: LearnerPath) -> dict[str, object]:
    """Lifts a ban: the learner returns to every board with all their points."""
    return await _set_ban(request, user_id, False, None)


async def refresh_rank_cache(request: Request, learner: str) -> None:
    """Hands a learner's committed totals to the rank cache."""
    rt = runtime(request)
    with database_errors():
        totals = await rt.pool.fetchval(query("learner_totals"), learner)
    await rt.ranks.apply(learner, json.loads(totals))


async def _set_ban(
    request: Request, user_id: str, banned: bool, reason: str | None
) -> dict[str, object]:
    actor = request.state.principal.subject
    with database_errors():
        known = await runtime(request).pool.fetchval(
            query("set_ban"), user_id, banned, actor, reason
        )
    if not known:
        raise NotFound(f"no learner {user_id!r}")
    await runtime(request).ranks.forget()
    log.info("learner_ban_changed learner=%s banned=%s actor=%s", user_id, banned, actor)
    return {"user_id": user_id, "banned": banned}
