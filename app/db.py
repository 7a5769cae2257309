"""The service's connection pool, and the one boundary where driver errors are wrapped."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator

import asyncpg

from app.errors import BadRequest, ServiceUnavailable
from app.settings import Settings

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


def session_settings(role: str, application_name: str) -> dict[str, str]:
    """Session settings of every service connection: its name and the role it acts as.

    Acting as scoreboard_app (no write grant on any table) holds even when the URL's user
    may do more, such as the owner in the embedded default.
    """
    settings = {"application_name": application_name}
    if role:
        settings["role"] = role
    return settings


async def keep_session(_: asyncpg.Connection) -> None:
    """Resets nothing when a connection returns to the pool (asyncpg still rolls back an
    open transaction): the service's sessions keep no state of their own, since its locks
    end with their transaction, it never SETs, LISTENs or holds a cursor on a pooled
    connection. asyncpg's default reset would cost a round trip per request."""


async def create_pool(settings: Settings) -> asyncpg.Pool:
    """Returns a pool that connects lazily, so the service starts while the database is away."""
    return await asyncpg.create_pool(
        settings.database_url,
        min_size=0,
        max_size=settings.db_pool_size,
        timeout=5,
        command_timeout=10,
        reset=keep_session,
        server_settings=session_settings(settings.database_role, "scoreboard"),
    )


@contextlib.contextmanager
def database_errors() -> Iterator[None]:
    """Turns the database being unreachable into ServiceUnavailable (503, Retry-After)."""
    try:
        yield
    except asyncpg.DataError as exc:
        # Input the edge should have refused; never a 500.
        raise BadRequest(f"the database refused a value: {exc}") from exc
    except UNAVAILABLE as exc:
        log.warning("database_unavailable error=%s", type(exc).__name__)
        raise ServiceUnavailable("the scoreboard database is unavailable; retry shortly") from exc
