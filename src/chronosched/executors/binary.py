"""`binary` jobs: an executable started directly, with no shell in between.

Payload: `{"path": "...", "args": [], "env": {}, "cwd": null, "timeout": s}`. Arguments reach the
program exactly as given (`;`, `$(...)`, `*` and quotes are not interpreted). A relative `path`
without a slash is looked up in `PATH`. Result shape, environment and timeouts are those of `cmd`;
a missing or non-executable `path` is an ordinary failure (it may be installed by the next try).
"""

from __future__ import annotations

from typing import Any

from chronosched.executors import environment, process
from chronosched.executors.base import (
    ExecutionOutcome,
    JobContext,
    PayloadError,
    optional_str,
    str_map,
    text_of,
    timeout_of,
)


class BinaryExecutor:
    kind = "binary"

    def __init__(self, *, kill_grace: float = process.KILL_GRACE) -> None:
        self._kill_grace = kill_grace

    async def execute(
        self,
        payload: dict[str, Any],
        ctx: JobContext,
        timeout: float | None,  # noqa: ASYNC109 -- a default the payload may override, not a cap
    ) -> ExecutionOutcome:
        path = optional_str(payload, "path")
        if not path:
            raise PayloadError("binary payload needs a non-empty 'path' string")
        raw_args = payload.get("args") or []
        if not isinstance(raw_args, list):
            raise PayloadError(f"args must be a list, got {type(raw_args).__name__}")
        args = [text_of(arg, f"args[{i}]") for i, arg in enumerate(raw_args)]
        timeout = timeout_of(payload, timeout)
        env = environment.job_environ(ctx, str_map(payload, "env"))
        run = await process.run_process(
            [path, *args],
            env=env,
            cwd=optional_str(payload, "cwd"),
            time_limit=timeout,
            kill_grace=self._kill_grace,
        )
        return process.outcome_of(run, timeout)

    async def aclose(self) -> None:
        return None
