"""The embedded default: a private PostgreSQL cluster with TimescaleDB and a private Redis.

Both live in a data folder of their own, listen on 127.0.0.1 on free ports and never touch
the machine's own servers. PostgreSQL refuses to run as root, so as root the cluster runs
as the `postgres` account that Debian's server package creates.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql

from app.errors import SettingsError

log = logging.getLogger(__name__)
DB_USER = "scoreboard_owner"
DB_NAME = "scoreboard"


@dataclass(frozen=True)
class Services:
    """Where the embedded services answer."""

    database_url: str
    redis_url: str


def free_port() -> int:
    """Returns a TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def postgres_bindir() -> Path:
    """Returns the newest PostgreSQL server binaries folder installed by Debian."""
    candidates = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/postgres"), key=lambda p: int(p.parent.parent.name)
    )
    if not candidates:
        raise SettingsError("PostgreSQL server is not installed; run ./dev serve to set up")
    return candidates[-1].parent


class EmbeddedPostgres:
    """A private PostgreSQL cluster in `root`, started and stopped by this process."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.data = root / "data"
        self.state_file = root / "state.json"
        self.bindir = postgres_bindir()
        self.run_as = "postgres" if os.geteuid() == 0 else None

    def _cmd(self, *args: str) -> list[str]:
        prefix = ["runuser", "-u", self.run_as, "--"] if self.run_as else []
        return [*prefix, *args]

    def _run(self, *args: str) -> None:
        result = subprocess.run(self._cmd(*args), capture_output=True, text=True, cwd="/")
        if result.returncode != 0:
            detail = " ".join((result.stderr or result.stdout).strip().splitlines()[-3:])
            raise SettingsError(f"{Path(args[0]).name} failed: {detail}")

    def _state(self) -> dict[str, str | int]:
        if self.state_file.exists():
            return dict(json.loads(self.state_file.read_text()))
        return {}

    def _initdb(self) -> dict[str, str | int]:
        self.root.mkdir(parents=True, exist_ok=True)
        password = secrets.token_urlsafe(24)
        pwfile = self.root / "pwfile"
        pwfile.write_text(password + "\n")
        if self.run_as:
            account = pwd.getpwnam(self.run_as)
            os.chown(self.root, account.pw_uid, account.pw_gid)
            os.chown(pwfile, account.pw_uid, account.pw_gid)
        pwfile.chmod(0o600)
        try:
            self._run(
                str(self.bindir / "initdb"),
                "-D",
                str(self.data),
                "-U",
                DB_USER,
                "--auth=scram-sha-256",
                f"--pwfile={pwfile}",
                "-E",
                "UTF8",
                "--no-locale",
            )
        finally:
            pwfile.unlink()
        state: dict[str, str | int] = {"password": password, "port": free_port()}
        self.state_file.write_text(json.dumps(state))
        self.state_file.chmod(0o600)
        log.info("embedded_database_created data_dir=%s", self.data)
        return state

    def is_running(self) -> bool:
        """Tells whether this cluster's server is up."""
        if not (self.data / "postmaster.pid").exists():
            return False
        result = subprocess.run(
            self._cmd(str(self.bindir / "pg_ctl"), "status", "-D", str(self.data)),
            capture_output=True,
            cwd="/",
        )
        return result.returncode == 0

    def start(self) -> str:
        """Starts the cluster (creating it on first use) and returns its database URL."""
        state = self._state() if (self.data / "PG_VERSION").exists() else self._initdb()
        if not self.is_running():
            port = int(state["port"])
            if not _port_is_free(port):
                state["port"] = port = free_port()
                self.state_file.write_text(json.dumps(state))
            options = (
                f"-c port={port} -c listen_addresses=127.0.0.1 "
                "-c unix_socket_directories='' "
                "-c shared_preload_libraries=timescaledb "
                "-c timescaledb.telemetry_level=off -c max_connections=300 "
                "-c shared_buffers=256MB"
            )
            self._run(
                str(self.bindir / "pg_ctl"),
                "start",
                "-w",
                "-t",
                "60",
                "-D",
                str(self.data),
                "-l",
                str(self.root / "postgres.log"),
                "-o",
                options,
            )
            log.info("embedded_database_started port=%s", port)
        url = f"postgresql://{DB_USER}:{state['password']}@127.0.0.1:{state['port']}/postgres"
        _ensure_database(url, DB_NAME)
        return url.rsplit("/", 1)[0] + "/" + DB_NAME

    def stop(self, mode: str = "fast") -> None:
        """Stops the cluster if it runs."""
        if self.is_running():
            self._run(str(self.bindir / "pg_ctl"), "stop", "-w", "-m", mode, "-D", str(self.data))
            log.info("embedded_database_stopped")


class EmbeddedRedis:
    """A private, memory-only redis-server in `root`."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.pidfile = root / "redis.pid"
        self.port_file = root / "redis.port"

    def is_running(self) -> bool:
        """Tells whether this Redis answers."""
        if not self.port_file.exists():
            return False
        return not _port_is_free(int(self.port_file.read_text()))

    def start(self) -> str:
        """Starts Redis if it is not running and returns its URL."""
        self.root.mkdir(parents=True, exist_ok=True)
        if not self.is_running():
            port = free_port()
            subprocess.run(
                [
                    "redis-server",
                    "--port",
                    str(port),
                    "--bind",
                    "127.0.0.1",
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                    "--daemonize",
                    "yes",
                    "--pidfile",
                    str(self.pidfile),
                    "--logfile",
                    str(self.root / "redis.log"),
                    "--dir",
                    str(self.root),
                ],
                check=True,
                capture_output=True,
            )
            self.port_file.write_text(str(port))
            _wait_for_port(port)
            log.info("embedded_redis_started port=%s", port)
        return f"redis://127.0.0.1:{self.port_file.read_text()}/0"

    def stop(self) -> None:
        """Stops Redis if it runs, and returns once its port is closed."""
        port = int(self.port_file.read_text()) if self.port_file.exists() else None
        if self.pidfile.exists():
            pid = int(self.pidfile.read_text())
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, 15)
            self.pidfile.unlink(missing_ok=True)
        deadline = time.monotonic() + 10
        while port is not None and not _port_is_free(port) and time.monotonic() < deadline:
            time.sleep(0.05)
        self.port_file.unlink(missing_ok=True)


def cluster_root(data_dir: Path) -> Path:
    """Returns where the cluster lives: in data_dir, unless its account cannot reach it.

    As root the cluster runs as `postgres`, which cannot enter a private folder (a clone
    in a mode-700 temporary folder, say); then it lives in a folder of /var/tmp named
    after the data folder, so that each checkout keeps its own cluster.
    """
    if os.geteuid() != 0 or _reachable_by_postgres(data_dir):
        return data_dir / "postgres"
    digest = hashlib.sha256(str(data_dir.resolve()).encode()).hexdigest()[:12]
    shared = Path("/var/tmp") / f"scoreboard-{digest}"  # noqa: S108 - made 0700, owner checked
    account = pwd.getpwnam("postgres")
    if not shared.exists():
        shared.mkdir(mode=0o700)
        os.chown(shared, account.pw_uid, account.pw_gid)
    if shared.stat().st_uid != account.pw_uid:
        raise SettingsError(
            f"{shared} is not owned by postgres; remove it or set another data dir"
        )
    return shared / "postgres"


def _reachable_by_postgres(path: Path) -> bool:
    path.mkdir(parents=True, exist_ok=True)
    probe = subprocess.run(
        ["runuser", "-u", "postgres", "--", "test", "-x", str(path)], capture_output=True
    )
    return probe.returncode == 0


def start_services(data_dir: Path) -> Services:
    """Starts (or reuses) the embedded PostgreSQL and Redis of a data folder."""
    database_url = EmbeddedPostgres(cluster_root(data_dir)).start()
    if shutil.which("redis-server") is None:
        log.warning(
            "embedded_redis_missing detail=no redis-server binary; "
            "rate limits are kept in this process only"
        )
        return Services(database_url, "")
    return Services(database_url, EmbeddedRedis(data_dir / "redis").start())


def stop_services(data_dir: Path) -> None:
    """Stops the embedded services of a data folder."""
    EmbeddedPostgres(cluster_root(data_dir)).stop()
    EmbeddedRedis(data_dir / "redis").stop()


def _port_is_free(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


def _wait_for_port(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while _port_is_free(port):
        if time.monotonic() > deadline:
            raise SettingsError(f"embedded service did not open port {port}")
        time.sleep(0.05)


def _ensure_database(url: str, name: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        exists = conn.execute("select 1 from pg_database where datname = %s", (name,)).fetchone()
        if not exists:
            conn.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
