"""The HTTP contract on a real uvicorn server: completions, boards, the stream, health."""

from __future__ import annotations

import uuid

import httpx
import psycopg
import pytest

from tests.conftest import Server
from tests.sse import EventStream


def complete(
    server: Server, token: str, lesson: str, completion_id: str | None = None, **extra: object
) -> httpx.Response:
    body = {"completion_id": completion_id or str(uuid.uuid4()), "lesson_id": lesson, **extra}
    return httpx.post(
        f"{server.url}/api/completions", json=body, headers={"Authorization": f"Bearer {token}"}
    )


def event_count(db_url: str) -> int:
    with psycopg.connect(db_url) as conn:
        row = conn.execute("select count(*) from scoreboard.score_events").fetchone()
    return int(row[0]) if row else -1


async def test_a_posted_completion_reaches_an_open_stream(server: Server) -> None:
    """The stream sends the current board at once, then the change a completion makes."""
    url = f"{server.url}/api/leaderboard/stream?board=all"
    async with EventStream(url) as stream:
        first = await stream.next_event()
        answer = complete(server, server.token("ann", name="Ann <b>Lee</b>"), "lesson-4")
        change = await stream.next_event(timeout=2)

    assert stream.status_code == 200
    assert stream.content_type.startswith("text/event-stream")
    assert (first.name, first.json["entries"]) == ("leaderboard", [])
    assert answer.status_code == 201
    assert answer.json() == {
        "completion_id": answer.json()["completion_id"],
        "user_id": "ann",
        "lesson_id": "lesson-4",
        "points": 40,
        "total": 40,
        "rank": 1,
    }
    assert change.id == str(change.json["version"])
    assert int(change.id) > int(first.id or 0)
    assert change.json["entries"] == [
        {"rank": 1, "user_id": "ann", "display_name": "Ann <b>Lee</b>", "points": 40}
    ]


async def test_a_reconnect_with_the_current_version_gets_no_duplicate(server: Server) -> None:
    complete(server, server.token("ann"), "lesson-1")
    async with EventStream(f"{server.url}/api/leaderboard/stream") as stream:
        current = await stream.next_event()
    headers = {"Last-Event-ID": current.id or ""}
    async with EventStream(f"{server.url}/api/leaderboard/stream", headers) as again:
        complete(server, server.token("bob"), "lesson-2")
        next_event = await again.next_event(timeout=2)

    assert int(next_event.id or 0) == int(current.id or 0) + 1
    assert [e["user_id"] for e in next_event.json["entries"]] == ["bob", "ann"]


def test_the_same_request_again_gets_200_and_the_same_body(server: Server) -> None:
    token = server.token("ann")
    key = str(uuid.uuid4())
    first = complete(server, token, "lesson-3", key)
    complete(server, server.token("bob"), "lesson-12")
    again = complete(server, token, "lesson-3", key)

    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json()
    assert event_count(server.settings.database_url) == 2


def test_a_replay_of_a_completion_whose_answer_was_lost_counts_its_rank_once(
    server: Server,
) -> None:
    """Recorded, but the process stopped before it stored the rank: the retry answers 200
    with the rank counted now, and every later retry answers the same body."""
    from app.routes import CompletionIn, request_digest

    complete(server, server.token("bob"), "lesson-9")
    key = uuid.uuid4()
    with psycopg.connect(server.settings.database_url) as conn:
        conn.execute(
            "select scoreboard.record_completion_v2(%s, 'ann', null, 'lesson-3', now(), %s,"
            " 'ann', 1000)",
            (key, request_digest("ann", CompletionIn(key, "lesson-3"))),
        )
    retries = [complete(server, server.token("ann"), "lesson-3", str(key)) for _ in range(2)]
    complete(server, server.token("cat"), "lesson-12")
    retries.append(complete(server, server.token("ann"), "lesson-3", str(key)))

    assert [r.status_code for r in retries] == [200, 200, 200]
    assert retries[0].json() == {
        "completion_id": str(key),
        "user_id": "ann",
        "lesson_id": "lesson-3",
        "points": 30,
        "total": 30,
        "rank": 2,
    }
    assert retries[1].json() == retries[2].json() == retries[0].json()
    assert event_count(server.settings.database_url) == 3


def test_a_banned_learners_answer_without_rank_stays_so_after_the_unban(server: Server) -> None:
    """No rank is an answer too: the same request after an unban answers the same body."""
    admin = {"Authorization": f"Bearer {server.token('teacher', admin=True)}"}
    complete(server, server.token("ann"), "lesson-1")
    ban_url = f"{server.url}/api/admin/learners/ann/ban"
    httpx.put(ban_url, json={"reason": "test"}, headers=admin).raise_for_status()
    key = str(uuid.uuid4())
    first = complete(server, server.token("ann"), "lesson-2", key)
    httpx.delete(ban_url, headers=admin).raise_for_status()
    again = complete(server, server.token("ann"), "lesson-2", key)

    assert (first.status_code, first.json()["rank"]) == (201, None)
    assert again.status_code == 200 and again.json() == first.json()


@pytest.mark.parametrize(
    ("case", "status", "code"),
    [
        ("another body, same key", 422, "unprocessable"),
        ("lesson completed before", 409, "already_completed"),
        ("unknown lesson", 422, "unprocessable"),
        ("points in the body", 400, "bad_request"),
        ("ill-typed completion id", 400, "bad_request"),
        ("no token", 401, "unauthorized"),
        ("token signed with another key", 401, "unauthorized"),
        ("user_id without the admin scope", 403, "forbidden"),
        ("completed in the future", 422, "unprocessable"),
    ],
)
def test_refused_completions_get_a_clear_error_and_write_nothing(
    server: Server, case: str, status: int, code: str
) -> None:
    token = server.token("ann")
    key = str(uuid.uuid4())
    complete(server, token, "lesson-1", key)
    before = event_count(server.settings.database_url)

    if case == "another body, same key":
        answer = complete(server, token, "lesson-2", key)
    elif case == "lesson completed before":
        answer = complete(server, token, "lesson-1")
    elif case == "unknown lesson":
        answer = complete(server, token, "lesson-404")
    elif case == "points in the body":
        answer = complete(server, token, "lesson-2", points=1000)
    elif case == "ill-typed completion id":
        answer = complete(server, token, "lesson-2", completion_id="not-a-uuid")
    elif case == "no token":
        answer = httpx.post(
            f"{server.url}/api/completions",
            json={"completion_id": str(uuid.uuid4()), "lesson_id": "lesson-2"},
        )
    elif case == "token signed with another key":
        forged = Server(server.settings.__class__(jwt_secret="x" * 40)).token("ann")
        answer = complete(server, forged, "lesson-2")
    elif case == "user_id without the admin scope":
        answer = complete(server, token, "lesson-2", user_id="bob")
    else:
        answer = complete(server, token, "lesson-2", completed_at="2999-01-01T00:00:00Z")

    assert answer.status_code == status
    assert answer.json()["error"]["code"] == code
    assert answer.json()["error"]["message"]
    assert "Traceback" not in answer.text
    assert event_count(server.settings.database_url) == before


def test_an_admin_may_record_a_completion_for_a_learner(server: Server) -> None:
    answer = complete(server, server.token("teacher", admin=True), "lesson-5", user_id="bob")
    board = httpx.get(f"{server.url}/api/leaderboard").json()

    assert (answer.status_code, answer.json()["user_id"]) == (201, "bob")
    assert [e["user_id"] for e in board["entries"]] == ["bob"]


def test_the_leaderboard_route_ranks_and_limits(server: Server) -> None:
    for i in range(12):
        complete(server, server.token(f"learner-{i:02}"), f"lesson-{i + 1}")
    board = httpx.get(f"{server.url}/api/leaderboard", params={"limit": 3}).json()
    full = httpx.get(f"{server.url}/api/leaderboard", params={"limit": 100}).json()
    bad = httpx.get(f"{server.url}/api/leaderboard", params={"limit": 101})

    assert board["board"] == "all" and board["period_start"] is None
    assert [(e["rank"], e["user_id"], e["points"]) for e in board["entries"]] == [
        (1, "learner-11", 120),
        (2, "learner-10", 110),
        (3, "learner-09", 100),
    ]
    assert len(full["entries"]) == 12
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "bad_request"


def test_lessons_are_added_through_the_admin_route(server: Server) -> None:
    admin = {"Authorization": f"Bearer {server.token('teacher', admin=True)}"}
    learner = {"Authorization": f"Bearer {server.token('ann')}"}
    body = {"title": "Conditionals", "points": 45}

    refused = httpx.put(
        f"{server.url}/api/admin/lessons/conditionals-1", json=body, headers=learner
    )
    added = httpx.put(f"{server.url}/api/admin/lessons/conditionals-1", json=body, headers=admin)
    used = complete(server, server.token("ann"), "conditionals-1")

    assert refused.status_code == 403
    assert added.status_code == 200 and added.json()["points"] == 45
    assert used.status_code == 201 and used.json()["points"] == 45


def test_health_and_readiness(server: Server) -> None:
    assert httpx.get(f"{server.url}/healthz").json() == {"status": "ok"}
    ready = httpx.get(f"{server.url}/readyz")
    assert ready.status_code == 200 and ready.json()["listener"] is True
    assert httpx.get(f"{server.url}/nowhere").json()["error"]["code"] == "not_found"


def test_the_page_is_served(server: Server) -> None:
    page = httpx.get(f"{server.url}/")
    script = httpx.get(f"{server.url}/static/scoreboard.js")
    assert page.status_code == 200 and "<table" in page.text
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert script.status_code == 200 and "EventSource" in script.text
