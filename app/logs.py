"""Logging: one line per event, JSON when not on a terminal.

Every record's message starts with a stable snake_case event name, followed by
key=value context (e.g. "listener_lost error=OSError retry_in=0.4s"); the JSON form keeps
the event and each key as fields of their own, and the whole message as well whenever the
context is more than key=value pairs (a value with spaces, free text). A field never
replaces time, level, logger or event.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import sys

_FIELD = re.compile(r"(\w+)=(\S+)")


class JsonFormatter(logging.Formatter):
    """Formats a record as one JSON object: time, level, logger, event and its fields."""

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        event, _, context = message.partition(" ")
        line: dict[str, object] = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": event,
        }
        pairs = _FIELD.findall(context)
        for key, value in pairs:
            line.setdefault(key, value)
        if context != " ".join(f"{key}={value}" for key, value in pairs):
            line["message"] = message
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


def configure_logging(log_format: str = "auto", level: int = logging.INFO) -> None:
    """Sends every logger's records to stderr, as JSON or as plain lines."""
    as_json = log_format == "json" or (log_format == "auto" and not sys.stderr.isatty())
    handler = logging.StreamHandler()
    handler.setFormatter(
        JsonFormatter()
        if as_json
        else logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s")
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for chatty in ("yoyo", "httpx", "httpcore"):  # a line per request or step is noise here
        logging.getLogger(chatty).setLevel(logging.WARNING)
