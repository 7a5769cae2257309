"""The service's connection pool, and the one boundary where driver errors are wrapped."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator

import asyncpg

from app.errors import ServiceUnavailable

log = logging.getLogger(__name__)

# Errors that mean "the database is away or restarting", not "the request is wrong".
UNAVAILABLE = (
    OSError,
    TimeoutError,
    asyncpg.InterfaceError,
    asyncpg.PostgresConnectionError,
    asyncpg.CannotConnectNowError,
    asyncpg.TooManyConnectionsError,
    asyncpg.AdminShutdownError,
    asyncpg.CrashShutdownError,
    asyncpg.QueryCanceledError,
    asyncpg.DeadlockDetectedError,
    asyncpg.SerializationError,
)


async def create_pool(database_url: str, size: int) -> asyncpg.Pool:
    """Returns a pool that connects lazily, so the service starts while the database is away."""
    return await asyncpg.create_pool(
        database_url,
        min_size=0,
        max_size=size,
        timeout=5,
        command_timeout=10,
        server_settings={"application_name": "scoreboard"},
    )


@contextlib.contextmanager
def database_errors() -> Iterator[None]:
    """Turns the database being unreachable into ServiceUnavailable (503, Retry-After)."""
    try:
        yield
    except UNAVAILABLE as exc:
        log.warning("database_unavailable error=%s", type(exc).__name__)
        raise ServiceUnavailable("the scoreboard database is unavailable; retry shortly") from exc
