"""The Litestar application: routes, error answers and the lifecycle of shared parts."""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import redis.asyncio as redis
from litestar import Litestar, MediaType, Request, Response, get
from litestar.datastructures import State
from litestar.exceptions import HTTPException, ValidationException
from litestar.openapi import OpenAPIConfig
from litestar.static_files import create_static_files_router
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from app import admin, routes
from app.auth import TokenVerifier
from app.db import create_pool, session_settings
from app.errors import ScoreboardError, SettingsError
from app.limits import RateLimiter
from app.logs import configure_logging
from app.metrics import Metrics
from app.ranks import RankCache
from app.settings import Settings
from app.state import Runtime
from notify.hub import BoardHub
from notify.listener import BoardListener
from notify.stream import close_on_server_exit

log = logging.getLogger(__name__)
STATIC_DIR = Path(__file__).resolve().parent / "static"
MAX_BODY_BYTES = 16 * 1024
COMPLETIONS_PATH = "/api/completions"
PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


def error_response(
    request: Request, status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> Response:
    """The one JSON shape of every error answer; a refused completion is counted."""
    completion = request.scope.get("path") == COMPLETIONS_PATH and request.method == "POST"
    if completion and not getattr(request.state, "completion_counted", False):
        request.app.state.metrics.completions.labels(code).inc()
    body = {"error": {"status": status, "code": code, "message": message}}
    return Response(body, status_code=status, headers=headers)


def scoreboard_error(request: Request, exc: ScoreboardError) -> Response:
    """Answers a deliberate error with its status, code and message."""
    headers = {"Retry-After": str(exc.retry_after)} if exc.retry_after else None
    return error_response(request, exc.status_code, exc.code, exc.message, headers)


def validation_error(request: Request, exc: ValidationException) -> Response:
    """Answers an ill-formed request (body, fields or parameters) with 400."""
    details = exc.extra if isinstance(exc.extra, list) else []
    parts = [
        f"{d.get('key') or ''}: {d.get('message')}".strip(": ")
        for d in details
        if isinstance(d, dict)
    ]
    return error_response(request, 400, "bad_request", "; ".join(parts) or str(exc.detail))


def http_error(request: Request, exc: HTTPException) -> Response:
    """Answers Litestar's own errors (unknown route, method, body too large) in our shape."""
    code = {404: "not_found", 405: "method_not_allowed", 413: "body_too_large"}.get(
        exc.status_code, "http_error"
    )
    return error_response(request, exc.status_code, code, str(exc.detail), exc.headers)


def unexpected_error(request: Request, exc: Exception) -> Response:
    """Logs an unexpected failure and answers 500 without any detail of it."""
    log.error(
        "request_failed path=%s error=%s", request.url.path, type(exc).__name__, exc_info=exc
    )
    return error_response(request, 500, "internal_error", "the scoreboard failed to answer")


@get("/metrics", include_in_schema=False)
async def metrics(request: Request) -> Response[bytes]:
    """Prometheus metrics of this process."""
    registry = request.app.state.metrics.registry
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)


@get("/", media_type=MediaType.HTML, include_in_schema=False)
async def page() -> Response[bytes]:
    """The scoreboard page."""
    return Response(
        (STATIC_DIR / "index.html").read_bytes(), media_type=MediaType.HTML, headers=PAGE_HEADERS
    )


def create_app(settings: Settings | None = None) -> Litestar:
    """Builds the app; shared parts start with the app and stop with it."""
    try:
        settings = settings or Settings.from_env()
        if not settings.database_url:
            raise SettingsError("SCOREBOARD_DATABASE_URL is not set (scoreboard serve sets it)")
        if settings.uses_secret and not settings.jwt_secret:
            raise SettingsError("SCOREBOARD_JWT_SECRET is not set")
        verifier = TokenVerifier(settings)
    except SettingsError as exc:
        # Started by uvicorn (as in the container): one plain line, not a traceback.
        print(f"scoreboard: bad setting: {exc.message}", file=sys.stderr)
        raise SystemExit(2) from None
    configure_logging(settings.log_format)
    metrics_ = Metrics()

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        pool = await create_pool(settings)
        client = (
            redis.Redis.from_url(settings.redis_url, socket_timeout=1, socket_connect_timeout=1)
            if settings.redis_url
            else None
        )
        hub = BoardHub()
        listener = BoardListener(
            settings.database_url,
            hub,
            settings.listener_probe_seconds,
            server_settings=session_settings(settings.database_role, "scoreboard-listener"),
        )
        limiter = RateLimiter(
            client,
            settings.rate_limit_per_learner,
            settings.rate_limit_per_address,
            settings.rate_limit_window_seconds,
            settings.rate_limit_redis_down,
        )
        proxies = tuple(ipaddress.ip_network(p, strict=False) for p in settings.trusted_proxies)
        ranks = RankCache(client, pool)
        app.state.runtime = Runtime(
            settings, pool, verifier, limiter, hub, listener, ranks, proxies
        )
        metrics_.watch(hub, listener)
        listener.start()
        exit_watch = asyncio.create_task(close_on_server_exit(hub))
        try:
            yield
        finally:
            exit_watch.cancel()
            hub.close()
            await listener.stop()
            await ranks.close()
            await pool.close()
            if client is not None:
                await client.aclose()

    return Litestar(
        route_handlers=[
            page,
            routes.post_completion,
            routes.get_leaderboard,
            routes.stream_leaderboard,
            routes.get_rank,
            admin.put_lesson,
            admin.post_correction,
            admin.ban_learner,
            admin.unban_learner,
            routes.healthz,
            routes.readyz,
            metrics,
            create_static_files_router(
                "/static", directories=[STATIC_DIR], include_in_schema=False
            ),
        ],
        lifespan=[lifespan],
        exception_handlers={
            ScoreboardError: scoreboard_error,
            ValidationException: validation_error,
            HTTPException: http_error,
            Exception: unexpected_error,
        },
        request_max_body_size=MAX_BODY_BYTES,
        middleware=[metrics_.middleware],
        state=State({"metrics": metrics_}),
        openapi_config=OpenAPIConfig(title="Scoreboard", version="0.1.0", path="/schema"),
        logging_config=None,
        debug=False,
    )
