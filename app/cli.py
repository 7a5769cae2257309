"""The `scoreboard` command: serve, migrate, demo, mint a token, manage lessons and services."""

from __future__ import annotations

import argparse
import logging
import os
import secrets
import signal
import sys
from dataclasses import replace

import psycopg

from app import embedded
from app.auth import SCOPE_ADMIN, SCOPE_WRITE, mint_token
from app.errors import ScoreboardError
from app.logs import configure_logging
from app.migrate import migrate
from app.queries import SQL_DIR, psycopg_query
from app.settings import PREFIX, Settings

log = logging.getLogger("scoreboard")


def jwt_secret(settings: Settings) -> str:
    """Returns the configured secret, or the embedded default's own (made on first use)."""
    if settings.jwt_secret:
        return settings.jwt_secret
    path = settings.data_dir / "jwt-secret"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(48))
        path.chmod(0o600)
    return path.read_text().strip()


def resolve(settings: Settings) -> tuple[Settings, bool]:
    """Fills in the embedded services when no database is configured; True if embedded."""
    settings = replace(settings, jwt_secret=jwt_secret(settings))
    if settings.database_url:
        return settings, False
    services = embedded.start_services(settings.data_dir)
    return replace(
        settings,
        database_url=services.database_url,
        redis_url=settings.redis_url or services.redis_url,
    ), True


def seed_sample_lessons(database_url: str) -> None:
    """Fills an empty catalog with the sample lessons, so a newcomer can post at once."""
    with psycopg.connect(database_url) as conn:
        conn.execute((SQL_DIR / "sample_lessons.sql").read_bytes())


def cmd_serve(args: argparse.Namespace, settings: Settings) -> None:
    import uvicorn

    settings, is_embedded = resolve(settings)
    migrate(settings.database_url)
    if is_embedded:
        seed_sample_lessons(settings.database_url)
    os.environ.update(
        {
            f"{PREFIX}DATABASE_URL": settings.database_url,
            f"{PREFIX}REDIS_URL": settings.redis_url,
            f"{PREFIX}JWT_SECRET": settings.jwt_secret,
        }
    )
    log.info("serving url=http://%s:%d/", args.host or settings.host, args.port or settings.port)
    # uvicorn stops on SIGTERM, then raises it again; its default action would end the
    # process before the embedded services are stopped below.
    signal.signal(signal.SIGTERM, exit_on_signal)
    try:
        uvicorn.run(
            "app.main:create_app",
            factory=True,
            host=args.host or settings.host,
            port=args.port or settings.port,
            workers=args.workers,
            timeout_graceful_shutdown=5,
            proxy_headers=False,  # X-Forwarded-For is read by the app, from trusted proxies only
            log_level="warning",
            access_log=False,
        )
    finally:
        if is_embedded and not args.keep_services:
            embedded.stop_services(settings.data_dir)


def exit_on_signal(signum: int, _frame: object) -> None:
    """Turns a signal into SystemExit, so that `finally` blocks run."""
    raise SystemExit(128 + signum)


def cmd_migrate(_: argparse.Namespace, settings: Settings) -> None:
    settings, _embedded = resolve(settings)
    applied = migrate(settings.database_url)
    print(f"applied {len(applied)} migration(s); database code is current")


def cmd_token(args: argparse.Namespace, settings: Settings) -> None:
    settings = replace(settings, jwt_secret=jwt_secret(settings))
    scopes = [SCOPE_WRITE] + ([SCOPE_ADMIN] if args.admin else [])
    print(mint_token(settings, args.user, scopes, args.name, args.ttl))


def cmd_lesson(args: argparse.Namespace, settings: Settings) -> None:
    settings, _embedded = resolve(settings)
    with psycopg.connect(settings.database_url) as conn:
        row = conn.execute(
            psycopg_query("upsert_lesson"), (args.lesson_id, args.title, args.points)
        ).fetchone()
    print(f"lesson {row[0]!r} ({row[1]}) is worth {row[2]} points" if row else "no change")


def cmd_demo(args: argparse.Namespace, settings: Settings) -> None:
    from app.demo import Demo

    settings = replace(settings, jwt_secret=jwt_secret(settings))
    url = args.url or f"http://{settings.host}:{settings.port}"
    demo = Demo(url, settings, args.learners, args.per_second, args.seed)
    try:
        recorded = demo.run(args.seconds)
    except KeyboardInterrupt:
        print("\ndemo: stopped")
        return
    print(f"demo: {recorded} completion(s) recorded")


def cmd_services(args: argparse.Namespace, settings: Settings) -> None:
    if args.action == "stop":
        embedded.stop_services(settings.data_dir)
        print("embedded services stopped")
        return
    services = embedded.start_services(settings.data_dir)
    print(f"{PREFIX}DATABASE_URL={services.database_url}")
    print(f"{PREFIX}REDIS_URL={services.redis_url}")


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="scoreboard", description=__doc__)
    sub = top.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="set up the database and serve the live board")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument("--workers", type=int, default=1)
    serve.add_argument(
        "--keep-services",
        action="store_true",
        help="leave the embedded PostgreSQL and Redis running on exit",
    )
    serve.set_defaults(run=cmd_serve)
    sub.add_parser("migrate", help="apply migrations and database code").set_defaults(
        run=cmd_migrate
    )
    token = sub.add_parser("token", help="print a token this service accepts")
    token.add_argument("--user", default="learner-1", help="the learner id (sub claim)")
    token.add_argument("--name", help="the display name (name claim)")
    token.add_argument("--admin", action="store_true", help="grant scores:admin too")
    token.add_argument("--ttl", type=int, default=3600, help="seconds until it expires")
    token.set_defaults(run=cmd_token)
    lesson = sub.add_parser("lesson", help="add a lesson to the catalog or change it")
    lesson.add_argument("lesson_id")
    lesson.add_argument("--title", required=True)
    lesson.add_argument("--points", type=int, required=True)
    lesson.set_defaults(run=cmd_lesson)
    demo = sub.add_parser(
        "demo", help="simulated learners completing lessons through the API of a running service"
    )
    demo.add_argument("--url", help="the service (default: SCOREBOARD_HOST and SCOREBOARD_PORT)")
    demo.add_argument("--learners", type=int, default=12, help="how many learners (1 to 16)")
    demo.add_argument(
        "--per-second", type=float, default=2.0, help="completions a second, on average"
    )
    demo.add_argument("--seconds", type=float, help="stop after this long (default: never)")
    demo.add_argument("--seed", type=int, help="repeat the same run")
    demo.set_defaults(run=cmd_demo)
    services = sub.add_parser("services", help="start or stop the embedded services")
    services.add_argument("action", choices=["start", "stop"])
    services.set_defaults(run=cmd_services)
    return top


def main(argv: list[str] | None = None) -> None:
    """Runs one subcommand; a bad setting or input ends with a one-line message."""
    args = parser().parse_args(argv)
    configure_logging(os.environ.get(f"{PREFIX}LOG_FORMAT", "auto"))
    try:
        args.run(args, Settings.from_env())
    except ScoreboardError as exc:
        print(f"scoreboard: {exc.message}", file=sys.stderr)
        sys.exit(2)
    except (psycopg.Error, OSError) as exc:
        print(f"scoreboard: {type(exc).__name__}: {exc}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
