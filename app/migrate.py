"""The migration step: yoyo migrations for tables, then every sql/ file for functions."""

from __future__ import annotations

import logging
from pathlib import Path

import psycopg
from yoyo import get_backend, read_migrations

from app.errors import SettingsError
from app.queries import SQL_DIR

log = logging.getLogger(__name__)
MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"


def yoyo_url(database_url: str) -> str:
    """Returns the URL yoyo needs: psycopg 3, and its own tables always in `public`.

    A role named like a schema (`scoreboard`) would otherwise move yoyo's tables there
    through the default search_path `"$user", public` once that schema exists.
    """
    scheme, rest = database_url.split("://", 1)
    if scheme not in ("postgres", "postgresql"):
        raise SettingsError(f"the database URL must start with postgresql://, not {scheme}://")
    joiner = "&" if "?" in rest else "?"
    return f"postgresql+psycopg://{rest}{joiner}options=-csearch_path%3Dpublic"


def sql_files() -> list[Path]:
    """Returns the database code files in the order they are applied."""
    return sorted(p for p in SQL_DIR.glob("[0-9]*.sql"))


def migrate(database_url: str) -> list[str]:
    """Applies pending migrations and (re)creates the database code; returns what was applied."""
    backend = get_backend(yoyo_url(database_url))
    migrations = read_migrations(str(MIGRATIONS_DIR))
    try:
        with backend.lock():
            pending = backend.to_apply(migrations)
            backend.apply_migrations(pending)
    finally:
        backend.connection.close()
    applied = [m.id for m in pending]
    with psycopg.connect(database_url) as conn:
        for path in sql_files():
            conn.execute(path.read_text().encode())
    log.info("migrations_applied count=%d sql_files=%d", len(applied), len(sql_files()))
    return applied
