"""`python` jobs: call a function registered with `@chronosched.task` in the worker's process.

Payload: `{"task": "name", "args": {...}, "timeout": s}`. The function gets `**args`, plus
`ctx=JobContext` when its signature names a `ctx` parameter. Async functions are awaited on the
worker's loop; sync ones run in a thread (`asyncio.to_thread`). The return value is the result
and must be JSON-serialisable. A raised exception fails the attempt with `"ExcType: message"` and
the traceback tail in `stderr`.

Timeouts: an async task is cancelled. A sync task's thread cannot be killed, so on timeout it is
abandoned (it runs on in the background and its result is dropped) — put long, blocking work in
`cmd`/`binary` jobs, which can be killed.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import math
import traceback
from typing import Any

from chronosched import tasks
from chronosched.executors.base import (
    OUTPUT_LIMIT,
    ExecutionOutcome,
    JobContext,
    PayloadError,
    timed_out_message,
    timeout_of,
)

_PLAIN = (str, int, bool, type(None))  # results that need no serialisability check


class PythonExecutor:
    kind = "python"

    async def execute(
        self,
        payload: dict[str, Any],
        ctx: JobContext,
        timeout: float | None,  # noqa: ASYNC109 -- a default the payload may override, not a cap
    ) -> ExecutionOutcome:
        spec, kwargs = _resolve(payload, ctx)
        timeout = timeout_of(payload, timeout)
        deadline: asyncio.Timeout | None = None
        try:
            if timeout is None:  # the common case: no timeout context to enter and leave
                result = await _call(spec, kwargs)
            else:
                async with asyncio.timeout(timeout) as deadline:
                    result = await _call(spec, kwargs)
        except TimeoutError as exc:
            if deadline is not None and deadline.expired():
                return ExecutionOutcome(False, None, timed_out_message(timeout or 0.0))
            return _failed(exc)
        except TypeError as exc:
            _raise_if_bad_arguments(spec, kwargs, exc)
            return _failed(exc)
        except (Exception, SystemExit) as exc:  # SystemExit: a task's sys.exit() fails the job
            return _failed(exc)
        if type(result) not in _PLAIN:
            problem = _not_json(result)
            if problem:
                return ExecutionOutcome(False, None, f"result is not JSON-serialisable: {problem}")
        return ExecutionOutcome(True, result, None)

    async def aclose(self) -> None:
        return None


async def _call(spec: tasks.TaskSpec, kwargs: dict[str, Any]) -> Any:
    """Await an async task; run a sync one in a thread (it must not block the event loop)."""
    if spec.is_async:
        return await spec.fn(**kwargs)
    return await asyncio.to_thread(spec.fn, **kwargs)


def _resolve(payload: dict[str, Any], ctx: JobContext) -> tuple[tasks.TaskSpec, dict[str, Any]]:
    name = payload.get("task")
    if not isinstance(name, str) or not name:
        raise PayloadError("python payload needs a 'task' name")
    try:
        spec = tasks.get_task(name)
    except KeyError as exc:
        raise PayloadError(exc.args[0]) from None
    args = payload.get("args")
    if args is None:
        args = {}
    elif not isinstance(args, dict):
        raise PayloadError(
            f"args must be an object of keyword arguments, got {type(args).__name__}"
        )
    if spec.wants_ctx:
        if "ctx" in args:
            raise PayloadError("args must not contain 'ctx': the task receives the job context")
        return spec, {**args, "ctx": ctx}
    return spec, args


def _raise_if_bad_arguments(spec: tasks.TaskSpec, kwargs: dict[str, Any], exc: TypeError) -> None:
    """A TypeError from the call itself (wrong args) is a payload error, not a task failure.

    Checked only after a TypeError, so that successful calls pay nothing for it.
    """
    try:
        inspect.signature(spec.fn).bind(**kwargs)
    except TypeError as bind_error:
        raise PayloadError(f"bad args for task {spec.name!r}: {bind_error}") from exc


def _failed(exc: BaseException) -> ExecutionOutcome:
    trace = "".join(traceback.format_exception(exc))
    stderr = trace[-OUTPUT_LIMIT:]
    return ExecutionOutcome(False, None, f"{type(exc).__name__}: {exc}", stderr=stderr)


def _not_json(value: Any) -> str | None:
    """Why `value` cannot be stored as JSON (None when it can)."""
    if isinstance(value, float):
        return None if math.isfinite(value) else f"{value!r}"
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as exc:
        return str(exc)
    return None
