"""Real services for the tests: a private PostgreSQL with TimescaleDB and a private Redis.

One migrated template database is built per session and cloned for each test that
needs a database; each test gets a clean Redis database too.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Protocol

import httpx
import psycopg
import pytest
import redis
from psycopg import sql

from app import embedded
from app.auth import SCOPE_ADMIN, SCOPE_WRITE, mint_token
from app.migrate import migrate
from app.settings import PROJECT_ROOT, Settings

TEST_DATA_DIR = PROJECT_ROOT / ".scoreboard" / "test"
TEMPLATE = "scoreboard_template"
SECRET = "test-secret-that-is-long-enough-for-hs256-0123456789"


@dataclass(frozen=True)
class Services:
    admin_url: str
    redis_url: str


def database_url(admin_url: str, name: str) -> str:
    return admin_url.rsplit("/", 1)[0] + "/" + name


@pytest.fixture(scope="session")
def services() -> Iterator[Services]:
    """Starts the embedded PostgreSQL and Redis for the whole session."""
    started = embedded.start_services(TEST_DATA_DIR)
    admin_url = database_url(started.database_url, "postgres")
    with psycopg.connect(admin_url, autocommit=True) as conn:
        if conn.execute("select from pg_database where datname = %s", (TEMPLATE,)).rowcount:
            conn.execute(
                sql.SQL("alter database {} is_template false").format(sql.Identifier(TEMPLATE))
            )
        conn.execute(
            sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(TEMPLATE))
        )
        conn.execute(sql.SQL("create database {}").format(sql.Identifier(TEMPLATE)))
    migrate(database_url(admin_url, TEMPLATE))
    with psycopg.connect(admin_url, autocommit=True) as conn:
        # No session may stay in a template: TimescaleDB's scheduler would otherwise.
        conn.execute(
            sql.SQL("alter database {} with is_template true allow_connections false").format(
                sql.Identifier(TEMPLATE)
            )
        )
        conn.execute(
            "select pg_terminate_backend(pid) from pg_stat_activity where datname = %s",
            (TEMPLATE,),
        )
    yield Services(admin_url, started.redis_url)
    embedded.stop_services(TEST_DATA_DIR)


@pytest.fixture
def db_url(services: Services) -> Iterator[str]:
    """A fresh migrated database for one test, cloned from the session's template."""
    name = f"scoreboard_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(services.admin_url, autocommit=True) as conn:
        conn.execute(
            sql.SQL("create database {} template {}").format(
                sql.Identifier(name), sql.Identifier(TEMPLATE)
            )
        )
    yield database_url(services.admin_url, name)
    with psycopg.connect(services.admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("drop database {} with (force)").format(sql.Identifier(name)))


@pytest.fixture
def redis_url(services: Services) -> str:
    """The session's Redis, emptied for this test."""
    redis.Redis.from_url(services.redis_url).flushall()
    return services.redis_url


@pytest.fixture
def settings(db_url: str, redis_url: str) -> Settings:
    return Settings(
        database_url=db_url, redis_url=redis_url, jwt_secret=SECRET, listener_probe_seconds=1.0
    )


@pytest.fixture
def lessons(db_url: str) -> dict[str, int]:
    """A small catalog: lesson id to points."""
    catalog = {f"lesson-{i}": 10 * i for i in range(1, 13)}
    with psycopg.connect(db_url) as conn:
        for lesson_id, points in catalog.items():
            conn.execute(
                "insert into scoreboard.lessons (lesson_id, title, points) values (%s, %s, %s)",
                (lesson_id, f"Lesson {lesson_id}", points),
            )
    return catalog


def listen_to_announcements(conn: psycopg.Connection) -> None:
    """LISTENs on the boards' announcement channel, whose name is the database's secret."""
    row = conn.execute("select name from scoreboard.announcement_channel").fetchone()
    assert row is not None
    conn.execute(sql.SQL("listen {}").format(sql.Identifier(row[0])))


def settings_env(settings: Settings) -> dict[str, str]:
    """The environment that gives a server process these settings."""
    env = {}
    for f in fields(settings):
        value = getattr(settings, f.name)
        text = ",".join(value) if isinstance(value, tuple) else str(value)
        env[f"SCOREBOARD_{f.name.upper()}"] = text
    return env


def became_ready(url: str, seconds: float) -> bool:
    """Waits until the service at `url` answers /readyz with 200; False after `seconds`."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                return True
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    return False


class Server:
    """A real uvicorn process serving the app on a free port."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.port = embedded.free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        env = {**os.environ, **settings_env(self.settings)}
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "app.main:create_app",
                "--factory",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--log-level",
                "warning",
                "--timeout-graceful-shutdown",
                "3",
                "--no-proxy-headers",
            ],
            env=env,
            cwd=PROJECT_ROOT,
        )
        if not became_ready(self.url, 20):
            raise RuntimeError("the test server did not become ready")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def token(self, user: str, *, admin: bool = False, name: str | None = None) -> str:
        scopes = [SCOPE_WRITE, SCOPE_ADMIN] if admin else [SCOPE_WRITE]
        return mint_token(self.settings, user, scopes, name)


class ServerFactory(Protocol):
    """Starts a server with some settings changed."""

    def start(self, **changes: object) -> Server: ...


@pytest.fixture
def server_factory(settings: Settings) -> Iterator[ServerFactory]:
    """Starts servers on demand (with optional setting changes); stops them after the test."""
    started: list[Server] = []

    class Factory:
        @staticmethod
        def start(**changes: object) -> Server:
            server = Server(replace(settings, **changes))  # type: ignore[arg-type]
            server.start()
            started.append(server)
            return server

    yield Factory()
    for server in started:
        server.stop()


@pytest.fixture
def server(server_factory: ServerFactory, lessons: dict[str, int]) -> Server:
    """One real server with the test catalog."""
    return server_factory.start()


def pytest_configure(config: pytest.Config) -> None:
    Path(TEST_DATA_DIR).mkdir(parents=True, exist_ok=True)
