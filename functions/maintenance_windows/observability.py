"""Structured JSON logs in the shape Cloud Logging reads: one object per line with `severity`.

`logger = get_logger(__name__)`, then `logger.info("window booked", event="window_booked", window_id=...)`:
the keyword arguments are the entry's fields. Never pass secrets or emails as fields (use user_key).

An adapter over the standard library rather than structlog: structlog names its message argument `event`,
the very field the log-based metrics in terraform/monitoring.tf read, and the adapter costs no import at cold
start. Third-party libraries keep logging through the same root handler.
"""

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
_UNSAFE_ATTRIBUTES = _RESERVED | {"message", "asctime"}


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


class StructuredLogger:
    """A stdlib logger, adapted so that keyword arguments are the entry's fields."""

    def __init__(self, logger: logging.Logger) -> None:
        self.logger = logger

    def debug(self, message: str, /, **fields: object) -> None:
        self._emit(logging.DEBUG, message, fields)

    def info(self, message: str, /, **fields: object) -> None:
        self._emit(logging.INFO, message, fields)

    def warning(self, message: str, /, **fields: object) -> None:
        self._emit(logging.WARNING, message, fields)

    def error(self, message: str, /, **fields: object) -> None:
        self._emit(logging.ERROR, message, fields)

    def critical(self, message: str, /, **fields: object) -> None:
        self._emit(logging.CRITICAL, message, fields)

    def exception(self, message: str, /, **fields: object) -> None:
        """ERROR with the exception being handled."""
        self._emit(logging.ERROR, message, fields, exc_info=True)

    def log(self, severity: int, message: str, /, **fields: object) -> None:
        self._emit(severity, message, fields)

    def _emit(self, severity: int, message: str, fields: dict[str, object], *, exc_info: bool = False) -> None:
        if not self.logger.isEnabledFor(severity):
            return
        # Also as record attributes where that is safe, so handlers and tests can read record.event.
        safe = {
            key: value for key, value in fields.items() if key not in _RESERVED and key not in ("message", "asctime")
        }
        # stacklevel 3: the record names the caller of info() and friends, not this module.
        self.logger.log(severity, message, exc_info=exc_info, extra={_FIELDS: fields, **safe}, stacklevel=3)


def configure_logging(level: int = logging.INFO) -> None:
    root = logging.getLogger()
    if any(isinstance(h.formatter, JsonFormatter) for h in root.handlers):
        return
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter())
    root.handlers[:] = [handler]
    root.setLevel(level)


def get_logger(name: str) -> StructuredLogger:
    return StructuredLogger(logging.getLogger(name))
