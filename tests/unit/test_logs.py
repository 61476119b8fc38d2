"""Log formats: JSON lines and readable text both carry the job context fields."""

from __future__ import annotations

import json
import logging

import pytest

from chronosched import logs


def _record(**extra: object) -> logging.LogRecord:
    record = logging.LogRecord(
        "chronosched.worker", logging.INFO, __file__, 1, "ran %s", ("x",), None
    )
    for key, value in extra.items():
        setattr(record, key, value)
    return record


def test_json_formatter__one_object_with_context() -> None:
    line = logs.JsonFormatter().format(_record(job_id=42, dag_id="d-1"))
    entry = json.loads(line)
    assert entry["message"] == "ran x"
    assert entry["level"] == "info"
    assert (entry["job_id"], entry["dag_id"]) == (42, "d-1")
    assert "worker_id" not in entry


def test_text_formatter__appends_context_only_when_present() -> None:
    formatter = logs.TextFormatter()
    assert formatter.format(_record(job_id=7, attempt=2)).endswith("ran x [job_id=7 attempt=2]")
    assert formatter.format(_record()).endswith("chronosched.worker: ran x")


def test_setup__refuses_unknown_format() -> None:
    with pytest.raises(ValueError, match="log format"):
        logs.setup("info", "xml")
