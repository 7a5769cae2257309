"""`scoreboard demo` against a real server, and the start-up message for a bad setting."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import httpx
import psycopg
import pytest

from app.embedded import free_port
from tests.conftest import PROJECT_ROOT, Server, became_ready, settings_env


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


def test_scoreboard_serve_stops_its_embedded_services_on_sigterm(tmp_path: Path) -> None:
    """A supervisor stops `scoreboard serve` with SIGTERM: the private PostgreSQL and Redis
    it started stop with it, leaving no server behind."""
    import contextlib
    import signal
    import socket

    from app import embedded

    env = {k: v for k, v in os.environ.items() if not k.startswith("SCOREBOARD_")}
    env.pop("DATABASE_URL", None)
    port = free_port()
    serve = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "serve", "--port", str(port)],
        env={**env, "SCOREBOARD_DATA_DIR": str(tmp_path), "SCOREBOARD_LOG_FORMAT": "text"},
        cwd=PROJECT_ROOT,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert became_ready(f"http://127.0.0.1:{port}", 60)
        serve.send_signal(signal.SIGTERM)
        _, log = serve.communicate(timeout=30)
    finally:
        serve.kill()

    ports = [int(p) for p in re.findall(r"embedded_\w+_started port=(\d+)", log)]
    still_open = []
    for service_port in ports:
        with contextlib.suppress(OSError):
            socket.create_connection(("127.0.0.1", service_port), timeout=1).close()
            still_open.append(service_port)
    embedded.stop_services(tmp_path)  # whatever the outcome, leave nothing running

    assert len(ports) == 2, log
    assert still_open == [], f"the embedded services outlived scoreboard serve: {log}"
