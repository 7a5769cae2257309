"""Attacks on the completion path: each is refused with a clear error and writes nothing."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Iterator

import httpx
import jwt
import psycopg
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from app.auth import SCOPE_ADMIN, SCOPE_WRITE
from app.embedded import free_port
from tests.conftest import SECRET, Server, ServerFactory
from tests.test_http import complete

RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
RSA_PUBLIC_PEM = (
    RSA_KEY.public_key()
    .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    .decode()
)


def written(db_url: str) -> tuple[int, ...]:
    """Counts every row a completion or an admin action could write."""
    with psycopg.connect(db_url) as conn:
        row = conn.execute(
            "select (select count(*) from scoreboard.score_events),"
            " (select count(*) from scoreboard.completions),"
            " (select count(*) from scoreboard.learners),"
            " (select count(*) from scoreboard.corrections),"
            " (select count(*) from scoreboard.board_totals)"
        ).fetchone()
    assert row is not None
    return tuple(row)


def claims(**changes: object) -> dict[str, object]:
    now = int(time.time())
    base: dict[str, object] = {
        "sub": "mallory",
        "scope": SCOPE_WRITE,
        "aud": "scoreboard",
        "iss": "scoreboard-local",
        "iat": now,
        "exp": now + 600,
    }
    base.update(changes)
    return {k: v for k, v in base.items() if v is not None}


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unsigned(payload: dict[str, object]) -> str:
    header = b64(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    return f"{header}.{b64(json.dumps(payload).encode())}."


def hs256_with(key: bytes, payload: dict[str, object]) -> str:
    """Signs HS256 by hand, with any key: PyJWT itself refuses a PEM key as HMAC secret."""
    signing_input = (
        f"{b64(json.dumps({'alg': 'HS256', 'typ': 'JWT'}).encode())}."
        f"{b64(json.dumps(payload).encode())}"
    )
    signature = hmac.new(key, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64(signature)}"


def hs(payload: dict[str, object], secret: str = SECRET) -> str:
    return jwt.encode(payload, secret, algorithm="HS256")


FORGED_TOKENS = {
    "alg none": unsigned(claims()),
    "signed with another secret": hs(claims(), "another-secret-another-secret-another"),
    "missing exp": hs(claims(exp=None)),
    "missing iat": hs(claims(iat=None)),
    "missing sub": hs(claims(sub=None)),
    "missing aud": hs(claims(aud=None)),
    "missing iss": hs(claims(iss=None)),
    "wrong aud": hs(claims(aud="another-service")),
    "wrong iss": hs(claims(iss="https://attacker.invalid")),
    "expired": hs(claims(iat=int(time.time()) - 7200, exp=int(time.time()) - 3600)),
    "not yet valid": hs(claims(nbf=int(time.time()) + 3600)),
    "issued in the future": hs(claims(iat=int(time.time()) + 3600, exp=int(time.time()) + 7200)),
    "older than the maximum age": hs(claims(iat=int(time.time()) - 90000)),
    "subject with markup": hs(claims(sub="<script>")),
    "scope as a list": hs(claims(scope=[SCOPE_WRITE, SCOPE_ADMIN])),
    "HS384 not pinned": jwt.encode(claims(), SECRET, algorithm="HS384"),
    "RS256 not pinned": jwt.encode(claims(), RSA_KEY, algorithm="RS256"),
    "garbage": "not.a.token",
}


def test_forged_and_broken_tokens_are_refused(server: Server) -> None:
    before = written(server.settings.database_url)
    for case, token in FORGED_TOKENS.items():
        answer = complete(server, token, "lesson-1")
        assert answer.status_code == 401, case
        assert answer.json()["error"]["code"] == "unauthorized", case
    assert written(server.settings.database_url) == before


def test_scope_escalation_is_refused(server: Server) -> None:
    before = written(server.settings.database_url)
    reader = hs(claims(scope="scores:read"))
    writer = hs(claims())
    correction = {
        "correction_id": str(uuid.uuid4()),
        "user_id": "mallory",
        "points": 500,
        "reason": "because",
    }

    no_scope = complete(server, reader, "lesson-1")
    forged_learner = complete(server, writer, "lesson-1", user_id="victim")
    self_correction = httpx.post(
        f"{server.url}/api/admin/corrections",
        json=correction,
        headers={"Authorization": f"Bearer {writer}"},
    )
    lesson = httpx.put(
        f"{server.url}/api/admin/lessons/free-points",
        json={"title": "Free", "points": 10000},
        headers={"Authorization": f"Bearer {writer}"},
    )

    assert [a.status_code for a in (no_scope, forged_learner, self_correction, lesson)] == [
        403,
        403,
        403,
        403,
    ]
    assert written(server.settings.database_url) == before


def test_hs256_signed_with_the_public_key_is_refused(
    server_factory: ServerFactory, lessons: dict[str, int]
) -> None:
    """The classic key confusion: the server pins RS256; the attacker signs HS256 with the
    public key it knows."""
    server = server_factory.start(jwt_algorithms=("RS256",), jwt_public_key=RSA_PUBLIC_PEM)
    confused = hs256_with(RSA_PUBLIC_PEM.encode(), claims())
    genuine = jwt.encode(claims(sub="alice"), RSA_KEY, algorithm="RS256")

    refused = complete(server, confused, "lesson-1")
    before = written(server.settings.database_url)
    accepted = complete(server, genuine, "lesson-1")

    assert refused.status_code == 401
    assert before == (0, 0, 0, 0, 0)
    assert accepted.status_code == 201 and accepted.json()["user_id"] == "alice"


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"lesson_id": "lesson-1", "points": 5000}, 400),
        ({"lesson_id": "lesson-1", "total": 5000}, 400),
        ({"lesson_id": "x" * 65}, 400),
        ({"lesson_id": "lesson-1", "completed_at": "yesterday"}, 400),
        ({"lesson_id": "lesson-1", "completed_at": "2020-01-01T00:00:00Z"}, 422),
        ({"lesson_id": "lesson-1", "completed_at": "2026-01-01T00:00:00"}, 422),
        ({"lesson_id": ["lesson-1"]}, 400),
        ({"lesson_id": "lesson-1", "user_id": "x" * 100}, 400),
    ],
)
def test_bad_bodies_are_refused(server: Server, body: dict[str, object], status: int) -> None:
    before = written(server.settings.database_url)
    answer = httpx.post(
        f"{server.url}/api/completions",
        json={"completion_id": str(uuid.uuid4()), **body},
        headers={"Authorization": f"Bearer {server.token('mallory')}"},
    )
    assert answer.status_code == status, answer.text
    assert set(answer.json()["error"]) == {"status", "code", "message"}
    assert written(server.settings.database_url) == before


def test_oversized_and_malformed_bodies_are_refused(server: Server) -> None:
    before = written(server.settings.database_url)
    headers = {
        "Authorization": f"Bearer {server.token('mallory')}",
        "Content-Type": "application/json",
    }
    url = f"{server.url}/api/completions"
    padding = "x" * 20000
    oversized = httpx.post(
        url,
        headers=headers,
        content=json.dumps(
            {"completion_id": str(uuid.uuid4()), "lesson_id": "lesson-1", "pad": padding}
        ),
    )
    malformed = httpx.post(url, headers=headers, content=b'{"completion_id": ')
    not_json = httpx.post(url, headers=headers, content=b"\xff\xfe\x00")
    array = httpx.post(url, headers=headers, content=b"[]")

    assert oversized.status_code == 413
    assert [r.status_code for r in (malformed, not_json, array)] == [400, 400, 400]
    for answer in (oversized, malformed, not_json, array):
        assert answer.json()["error"]["message"] and "Traceback" not in answer.text
    assert written(server.settings.database_url) == before


async def test_fifty_concurrent_duplicates_count_once(server: Server) -> None:
    key = str(uuid.uuid4())
    headers = {"Authorization": f"Bearer {server.token('ann')}"}
    body = {"completion_id": key, "lesson_id": "lesson-6"}
    async with httpx.AsyncClient(timeout=10) as client:
        answers = await asyncio.gather(
            *(
                client.post(f"{server.url}/api/completions", json=body, headers=headers)
                for _ in range(50)
            )
        )

    statuses = sorted(a.status_code for a in answers)
    assert statuses == [200] * 49 + [201]
    assert len({a.text for a in answers}) == 1, "every answer has the same body"
    assert written(server.settings.database_url)[:2] == (1, 1)


async def test_the_same_lesson_concurrently_under_new_keys_counts_once(server: Server) -> None:
    headers = {"Authorization": f"Bearer {server.token('ann')}"}
    async with httpx.AsyncClient(timeout=10) as client:
        answers = await asyncio.gather(
            *(
                client.post(
                    f"{server.url}/api/completions",
                    headers=headers,
                    json={"completion_id": str(uuid.uuid4()), "lesson_id": "lesson-6"},
                )
                for _ in range(20)
            )
        )
    assert sorted(a.status_code for a in answers) == [201] + [409] * 19
    assert written(server.settings.database_url)[:2] == (1, 1)


def test_points_beyond_the_hourly_cap_are_refused(
    server_factory: ServerFactory, lessons: dict[str, int]
) -> None:
    server = server_factory.start(max_points_per_hour=100)
    token = server.token("speedy")
    first = complete(server, token, "lesson-4")
    second = complete(server, token, "lesson-5")
    before = written(server.settings.database_url)
    third = complete(server, token, "lesson-2")
    fitting = complete(server, token, "lesson-1")

    assert (first.status_code, second.status_code, fitting.status_code) == (201, 201, 201)
    assert third.status_code == 422 and "within the hour" in third.json()["error"]["message"]
    assert written(server.settings.database_url)[0] == before[0] + 1, "only the fitting one"


async def test_flooding_two_processes_is_limited_exactly(
    server_factory: ServerFactory, db_url: str
) -> None:
    """Two app processes share one count in Redis: exactly the limit gets through."""
    with psycopg.connect(db_url) as conn:
        for i in range(40):
            conn.execute("insert into scoreboard.lessons values (%s, 'Flood', 1)", (f"f-{i}",))
    first = server_factory.start(rate_limit_per_learner=15, max_points_per_hour=10000)
    second = server_factory.start(rate_limit_per_learner=15, max_points_per_hour=10000)
    headers = {"Authorization": f"Bearer {first.token('flooder')}"}
    async with httpx.AsyncClient(timeout=10) as client:
        answers = await asyncio.gather(
            *(
                client.post(
                    f"{(first, second)[i % 2].url}/api/completions",
                    headers=headers,
                    json={"completion_id": str(uuid.uuid4()), "lesson_id": f"f-{i}"},
                )
                for i in range(40)
            )
        )

    statuses = [a.status_code for a in answers]
    assert statuses.count(201) == 15 and statuses.count(429) == 25
    assert all(int(a.headers["retry-after"]) >= 1 for a in answers if a.status_code == 429)
    assert written(db_url)[0] == 15


def test_a_forwarded_for_header_from_an_untrusted_peer_changes_no_address(
    server_factory: ServerFactory, lessons: dict[str, int]
) -> None:
    """Without trusted proxies, a caller naming other addresses is still counted as itself."""
    server = server_factory.start(rate_limit_per_address=2)
    statuses = []
    for i in range(3):
        headers = {
            "Authorization": f"Bearer {server.token(f'learner-{i}')}",
            "X-Forwarded-For": f"203.0.113.{i + 1}",
        }
        body = {"completion_id": str(uuid.uuid4()), "lesson_id": "lesson-1"}
        statuses.append(
            httpx.post(f"{server.url}/api/completions", json=body, headers=headers).status_code
        )

    assert statuses == [201, 201, 429]


def test_redis_down_refuses_completions_and_keeps_reads(
    server_factory: ServerFactory, lessons: dict[str, int]
) -> None:
    dead_redis = f"redis://127.0.0.1:{free_port()}/0"
    refusing = server_factory.start(redis_url=dead_redis)
    counting = server_factory.start(redis_url=dead_redis, rate_limit_redis_down="local")

    refused = complete(refusing, refusing.token("ann"), "lesson-1")
    board = httpx.get(f"{refusing.url}/api/leaderboard")
    accepted = complete(counting, counting.token("ann"), "lesson-1")

    assert refused.status_code == 503 and int(refused.headers["retry-after"]) >= 1
    assert board.status_code == 200
    assert accepted.status_code == 201
    assert written(refusing.settings.database_url)[0] == 1


@pytest.fixture
def admin_headers(server: Server) -> Iterator[dict[str, str]]:
    yield {"Authorization": f"Bearer {server.token('teacher', admin=True)}"}


def test_corrections_are_signed_events_with_reason_and_actor(
    server: Server, admin_headers: dict[str, str]
) -> None:
    complete(server, server.token("ann"), "lesson-5")
    body = {
        "correction_id": str(uuid.uuid4()),
        "user_id": "ann",
        "points": -20,
        "reason": "lesson repeated by a bug",
    }
    url = f"{server.url}/api/admin/corrections"

    first = httpx.post(url, json=body, headers=admin_headers)
    again = httpx.post(url, json=body, headers=admin_headers)
    reused = httpx.post(url, json={**body, "points": -30}, headers=admin_headers)
    unknown = httpx.post(
        url,
        json={**body, "correction_id": str(uuid.uuid4()), "user_id": "nobody"},
        headers=admin_headers,
    )
    with psycopg.connect(server.settings.database_url) as conn:
        events = conn.execute(
            "select points, kind, actor, reason from scoreboard.score_events order by time"
        ).fetchall()

    assert (first.status_code, first.json()["total"]) == (201, 30)
    assert again.status_code == 200 and again.json() == first.json()
    assert (reused.status_code, unknown.status_code) == (422, 404)
    assert events == [
        (50, "completion", "ann", None),
        (-20, "correction", "teacher", "lesson repeated by a bug"),
    ]


async def test_a_ban_removes_a_learner_from_every_board_live(
    server: Server, admin_headers: dict[str, str]
) -> None:
    from tests.sse import EventStream

    complete(server, server.token("cheater"), "lesson-9")
    complete(server, server.token("ann"), "lesson-2")
    ban_url = f"{server.url}/api/admin/learners/cheater/ban"
    async with EventStream(f"{server.url}/api/leaderboard/stream?board=day") as stream:
        await stream.next_event()
        banned = httpx.put(ban_url, json={"reason": "shared account"}, headers=admin_headers)
        after_ban = await stream.next_event()
        unbanned = httpx.delete(ban_url, headers=admin_headers)
        after_unban = await stream.next_event()
    boards = {
        b: httpx.get(f"{server.url}/api/leaderboard", params={"board": b}).json()
        for b in ("all", "week")
    }

    assert (banned.status_code, unbanned.status_code) == (200, 200)
    assert [e["user_id"] for e in after_ban.json["entries"]] == ["ann"]
    assert [e["user_id"] for e in after_unban.json["entries"]] == ["cheater", "ann"]
    assert all([e["user_id"] for e in b["entries"]] == ["cheater", "ann"] for b in boards.values())
    assert (
        httpx.put(
            f"{server.url}/api/admin/learners/nobody/ban",
            json={"reason": "x"},
            headers=admin_headers,
        ).status_code
        == 404
    )


def test_tokens_from_a_pem_public_key_and_es256(
    server_factory: ServerFactory, lessons: dict[str, int]
) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    pem = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    server = server_factory.start(jwt_algorithms=("ES256",), jwt_public_key=pem)

    accepted = complete(server, jwt.encode(claims(sub="eve"), key, algorithm="ES256"), "lesson-1")
    other_key = ec.generate_private_key(ec.SECP256R1())
    refused = complete(server, jwt.encode(claims(), other_key, algorithm="ES256"), "lesson-2")
    hs_refused = complete(server, hs(claims()), "lesson-3")

    assert accepted.status_code == 201
    assert (refused.status_code, hs_refused.status_code) == (401, 401)


async def test_a_database_login_cannot_announce_a_forged_board(server: Server) -> None:
    """NOTIFY needs no privilege: an analyst's forged board on the well-known name reaches
    no browser, and the announcement channel's name is not theirs to read."""
    from tests.sse import EventStream

    complete(server, server.token("ann"), "lesson-2")
    forged = json.dumps(
        {
            "type": "leaderboard",
            "board": "all",
            "period_start": None,
            "version": 999999,
            "entries": [{"rank": 1, "user_id": "mallory", "display_name": "M", "points": 1}],
        }
    )
    async with EventStream(f"{server.url}/api/leaderboard/stream") as stream:
        first = await stream.next_event()
        with psycopg.connect(server.settings.database_url, autocommit=True) as conn:
            conn.execute("set role scoreboard_analyst")
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute("select name from scoreboard.announcement_channel")
            for channel in ("scoreboard", "leaderboard"):
                conn.execute("select pg_notify(%s, %s)", (channel, forged))
        complete(server, server.token("bob"), "lesson-5")
        after = await stream.next_event()

    assert int(after.id or 0) == int(first.id or 0) + 1
    assert [e["user_id"] for e in after.json["entries"]] == ["bob", "ann"]
