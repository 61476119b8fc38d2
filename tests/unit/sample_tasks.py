"""Tasks registered for the `python` executor tests (imported by `load_task_modules`)."""

from __future__ import annotations

import asyncio
import sys
import threading
import time
from typing import Any

import chronosched
from chronosched.executors import JobContext


@chronosched.task
def add(a: int, b: int) -> int:
    return a + b


@chronosched.task
async def multiply(a: int, b: int) -> int:
    await asyncio.sleep(0)
    return a * b


@chronosched.task(name="sample.whoami")
def whoami(ctx: JobContext, greeting: str = "hi") -> dict[str, Any]:
    return {"greeting": greeting, "job": ctx.job_id, "attempt": ctx.attempt, "dag": ctx.dag_id}


@chronosched.task
async def async_whoami(ctx: JobContext) -> int:
    return ctx.job_id


@chronosched.task
def in_main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


@chronosched.task
def explode(reason: str) -> None:
    raise ValueError(f"bad input: {reason}")


@chronosched.task
def exits() -> None:
    sys.exit(3)


@chronosched.task
def own_timeout() -> None:
    raise TimeoutError("the database did not answer")


@chronosched.task
def inner_type_error() -> None:
    len(5)  # type: ignore[arg-type]


@chronosched.task
async def sleep_async(seconds: float) -> str:
    await asyncio.sleep(seconds)
    return "done"


@chronosched.task
def sleep_sync(seconds: float) -> str:
    time.sleep(seconds)
    return "done"


@chronosched.task
def not_json() -> object:
    return {"when": object()}


@chronosched.task
def not_a_number() -> float:
    return float("nan")
