"""Tasks for worker tests and benchmarks (`chronosched worker --app tests.tasks_for_tests`)."""

from __future__ import annotations

import asyncio
import os
import time
from typing import Any

import chronosched
from chronosched.executors import JobContext

RUN_LOG_ENV = "CHRONOSCHED_TEST_RUN_LOG"


@chronosched.task
async def noop() -> None:
    """The throughput benchmark's job: measures the queue, not the work."""


@chronosched.task
async def echo(value: Any = None) -> Any:
    return value


@chronosched.task
async def record(ctx: JobContext, sleep: float = 0.0, value: Any = None) -> dict[str, Any]:
    """Append 'job attempt pid start-time' to the file named by $CHRONOSCHED_TEST_RUN_LOG (one
    short O_APPEND write, atomic across processes), sleep, return who ran it."""
    path = os.environ.get(RUN_LOG_ENV)
    if path:
        line = f"{ctx.job_id} {ctx.attempt} {os.getpid()} {time.time():.6f}\n"
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line.encode())
        finally:
            os.close(fd)
    if sleep:
        await asyncio.sleep(sleep)
    return {"pid": os.getpid(), "attempt": ctx.attempt, "value": value}


@chronosched.task
async def boom(message: str = "boom") -> None:
    raise RuntimeError(message)


@chronosched.task
async def sum_parents(ctx: JobContext, add: int = 0) -> int:
    """Sum of the parents' (integer) results plus `add`: shows data flowing along edges."""
    return add + sum(int(p["result"]) for p in ctx.parent_results.values())


@chronosched.task
async def started_at(ctx: JobContext) -> float:
    """The epoch time the task started (DAG-order and latency checks)."""
    return time.time()
