"""Shared helpers for the executor tests: a job context and process-table checks."""

from __future__ import annotations

import asyncio
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from chronosched.executors import JobContext


def make_ctx(kind: str = "cmd", **overrides: Any) -> JobContext:
    fields: dict[str, Any] = {
        "job_id": 42,
        "attempt": 2,
        "max_attempts": 3,
        "dag_id": "7",
        "def_name": "nightly-export",
        "kind": kind,
        "scheduled_for": datetime(2024, 5, 1, 3, 0, tzinfo=UTC),
        "parent_results": {"41": {"name": "extract", "result": {"output": {"rows": [1, 2]}}}},
    }
    fields.update(overrides)
    return JobContext(**fields)


def _state(stat: bytes) -> bytes:
    return stat[stat.rfind(b")") + 2 :][:1]


def is_running(pid: int) -> bool:
    """True when `pid` exists and is not a zombie (orphans are reaped by PID 1, eventually)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_bytes()
    except FileNotFoundError:
        return False
    return _state(stat) not in (b"Z", b"X")


def group_running(pgid: int) -> list[int]:
    """Pids of running (non-zombie) members of process group `pgid`."""
    members = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_bytes()
        except OSError:
            continue
        fields = stat[stat.rfind(b")") + 2 :].split()
        if int(fields[2]) == pgid and fields[0] not in (b"Z", b"X"):
            members.append(int(entry))
    return members


def _words(path: Path) -> list[str]:
    try:
        return path.read_text().split()
    except FileNotFoundError:
        return []


async def wait_for_pids(path: Path, count: int, within: float = 5.0) -> list[int]:
    """Poll a file the job writes its pids to (the job's own progress is the event here)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while loop.time() < deadline:
        words = _words(path)
        if len(words) >= count:
            return [int(word) for word in words[:count]]
        await asyncio.sleep(0.01)
    raise AssertionError(f"the job did not write {count} pids to {path}")
