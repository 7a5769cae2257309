"""Named SQL queries, read once from sql/queries.sql."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

SQL_DIR = Path(__file__).resolve().parent.parent / "sql"
_NAME_LINE = re.compile(r"^-- name: (\w+)\s*$", re.MULTILINE)


def parse_queries(text: str) -> dict[str, str]:
    """Returns {name: sql} for every '-- name: x' section of a query file."""
    parts = _NAME_LINE.split(text)
    return {name: body.strip() for name, body in zip(parts[1::2], parts[2::2], strict=True)}


@cache
def query(name: str) -> str:
    """Returns the SQL of one named query; an unknown name is a KeyError."""
    return parse_queries((SQL_DIR / "queries.sql").read_text())[name]


def psycopg_query(name: str) -> str:
    """Returns a named query with psycopg's placeholders ($1, $2... taken in order)."""
    return re.sub(r"\$\d+", "%s", query(name))
