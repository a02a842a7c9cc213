"""Structured logs: one JSON object per line, Cloud Logging's severity, fields of any name."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest

from maintenance_windows.observability import JsonFormatter, get_logger


@pytest.fixture
def records() -> Iterator[list[logging.LogRecord]]:
    collected: list[logging.LogRecord] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            collected.append(record)

    logger, handler = logging.getLogger("test.observability"), Collect()
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    yield collected
    logger.removeHandler(handler)
    logger.setLevel(logging.NOTSET)


def test_fields_named_like_log_record_attributes_are_kept(records: list[logging.LogRecord]) -> None:
    get_logger("test.observability").warning("channels maintained", event="channels_maintained", created=3, message="x")
    entry = json.loads(JsonFormatter().format(records[0]))
    assert entry["severity"] == "WARNING"
    assert entry["event"] == "channels_maintained"
    assert entry["created"] == 3
    assert entry["message"] == "channels maintained"


def test_fields_are_record_attributes_and_the_record_names_the_caller(records: list[logging.LogRecord]) -> None:
    logger = get_logger("test.observability")
    try:
        raise ValueError("boom")
    except ValueError:
        logger.exception("plan failed", event="plan_failed", window_id="w-1")
    logger.log(logging.INFO, "task created", event="task_created")
    failed, created = records
    assert (failed.levelno, vars(failed)["event"], vars(failed)["window_id"]) == (logging.ERROR, "plan_failed", "w-1")
    assert "ValueError: boom" in json.loads(JsonFormatter().format(failed))["exception"]
    assert (created.levelno, vars(created)["event"]) == (logging.INFO, "task_created")
    assert {failed.funcName, created.funcName} == {"test_fields_are_record_attributes_and_the_record_names_the_caller"}


def test_a_level_below_the_logger_s_is_not_emitted(records: list[logging.LogRecord]) -> None:
    logging.getLogger("test.observability").setLevel(logging.WARNING)
    get_logger("test.observability").info("quiet", event="never")
    assert records == []
