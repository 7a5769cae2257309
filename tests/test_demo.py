"""`scoreboard demo` against a real server, and the start-up message for a bad setting."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import httpx
import psycopg
import pytest

from app.embedded import free_port
from tests.conftest import PROJECT_ROOT, Server, settings_env


def scoreboard(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app.cli", *args],
        env={**os.environ, **env},
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_the_demo_moves_the_board_through_the_api(server: Server, db_url: str) -> None:
    env = settings_env(server.settings)
    run = scoreboard(
        "demo", "--url", server.url, "--seconds", "3", "--per-second", "20", "--learners", "6",
        "--seed", "3", env=env,
    )  # fmt: skip

    assert run.returncode == 0, run.stderr
    found = re.search(r"demo: (\d+) completion\(s\) recorded", run.stdout)
    assert found, run.stdout
    recorded = int(found[1])
    with psycopg.connect(db_url) as conn:
        rows = conn.execute(
            "select user_id, count(*), sum(points) from scoreboard.score_events group by 1"
        ).fetchall()
    assert recorded >= 10
    assert sum(count for _, count, _ in rows) == recorded
    assert {user for user, _, _ in rows} <= {
        f"demo-{name}" for name in ("ada", "bruno", "chiara", "dmitri", "esra", "farid")
    }
    board = httpx.get(f"{server.url}/api/leaderboard").json()["entries"]
    shown = [(entry["user_id"], entry["points"]) for entry in board]
    assert sorted(shown) == sorted((user, int(points)) for user, _, points in rows)
    assert [points for _, points in shown] == sorted((p for _, p in shown), reverse=True)


def test_the_demo_says_when_no_service_answers(server: Server) -> None:
    run = scoreboard(
        "demo", "--url", f"http://127.0.0.1:{free_port()}", "--seconds", "1",
        env=settings_env(server.settings),
    )  # fmt: skip

    assert run.returncode == 2
    assert "no service answers at http://127.0.0.1:" in run.stderr


BAD_SETTINGS = {
    "SCOREBOARD_STREAM_PING_SECONDS='soon' is not a valid float": {
        "SCOREBOARD_STREAM_PING_SECONDS": "soon"
    },
    "SCOREBOARD_JWT_PUBLIC_KEY: cannot read the key file '/nowhere/key.pem': "
    "No such file or directory": {
        "SCOREBOARD_JWT_PUBLIC_KEY": "/nowhere/key.pem",
        "SCOREBOARD_JWT_ALGORITHMS": "HS256,ES256",
    },
}


@pytest.mark.parametrize("message", BAD_SETTINGS)
def test_a_bad_setting_stops_the_server_with_one_plain_line(server: Server, message: str) -> None:
    env = {**settings_env(server.settings), **BAD_SETTINGS[message]}
    started = subprocess.run(
        [sys.executable, "-m", "uvicorn", "app.main:create_app", "--factory", "--port",
         str(free_port())],
        env={**os.environ, **env},
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )  # fmt: skip

    assert started.returncode == 2
    assert started.stderr.strip() == f"scoreboard: bad setting: {message}"
