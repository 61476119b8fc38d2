"""Logging for every process: readable lines by default, JSON lines with `--log-format json`.

Job-related lines carry `job_id` / `dag_id` (and `worker_id`) as `extra=` fields; both formats
show them, so one job can be followed across workers with a grep or a log query.
"""

from __future__ import annotations

import json
import logging
import os
from datetime import UTC, datetime

CONTEXT_FIELDS = ("job_id", "dag_id", "def_id", "worker_id", "attempt")
FORMATS = ("text", "json")


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message and the context fields."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for field in CONTEXT_FIELDS:
            value = getattr(record, field, None)
            if value is not None:
                entry[field] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


class TextFormatter(logging.Formatter):
    """The classic line, followed by `key=value` for each context field present."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        context = " ".join(
            f"{field}={getattr(record, field)}"
            for field in CONTEXT_FIELDS
            if getattr(record, field, None) is not None
        )
        return f"{line} [{context}]" if context else line


def setup(level: str = "info", fmt: str | None = None) -> None:
    """Configure the root logger; `fmt` defaults to CHRONOSCHED_LOG_FORMAT, else text."""
    chosen = (fmt or os.environ.get("CHRONOSCHED_LOG_FORMAT") or "text").lower()
    if chosen not in FORMATS:
        raise ValueError(f"log format must be one of {', '.join(FORMATS)}, not {chosen!r}")
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter() if chosen == "json" else TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
