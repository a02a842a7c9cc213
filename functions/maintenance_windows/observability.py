"""Structured JSON logs in the shape Cloud Logging reads: one object per line with `severity`."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

_RESERVED = set(vars(logging.makeLogRecord({})))
# Structured fields travel in one attribute, so names like "created" or "message" cannot clash with
# LogRecord's own attributes.
_FIELDS = "mw_fields"


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "severity": record.levelname,  # Python's level names are Cloud Logging's severities
            "message": record.getMessage(),
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "logger": record.name,
        }
        for key, value in vars(record).items():
            if key not in _RESERVED and not key.startswith("_") and key != _FIELDS:
                entry[key] = value
        # The record's own severity, message and time win over a field of the same name.
        entry = {**getattr(record, _FIELDS, {}), **entry}
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def configure_logging(level: int = logging.INFO) -> None:
    root = logging.getLogger()
    if any(isinstance(h.formatter, JsonFormatter) for h in root.handlers):
        return
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter())
    root.handlers[:] = [handler]
    root.setLevel(level)


def get_logger(name: str) -> logging.Logger:
    return logging.getLogger(name)


def log(logger: logging.Logger, severity: int, message: str, /, **fields: Any) -> None:
    """Log with structured fields; never pass secrets or emails here (use user_key)."""
    # Also as record attributes where that is safe, so handlers and tests can read record.event.
    safe = {key: value for key, value in fields.items() if key not in _RESERVED and key not in ("message", "asctime")}
    logger.log(severity, message, extra={_FIELDS: fields, **safe})
