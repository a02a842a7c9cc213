"""Structured logs: one JSON object per line, Cloud Logging's severity, fields of any name."""

from __future__ import annotations

import json
import logging

from maintenance_windows.observability import JsonFormatter, log


def test_fields_named_like_log_record_attributes_are_kept() -> None:
    logger = logging.getLogger("test.observability")
    records: list[logging.LogRecord] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    handler = Collect()
    logger.addHandler(handler)
    try:
        log(logger, logging.WARNING, "channels maintained", event="channels_maintained", created=3, message="x")
    finally:
        logger.removeHandler(handler)
    entry = json.loads(JsonFormatter().format(records[0]))
    assert entry["severity"] == "WARNING" and entry["event"] == "channels_maintained"
    assert entry["created"] == 3 and entry["message"] == "channels maintained"
