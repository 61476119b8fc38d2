"""`cmd` jobs: a shell command line, run through `/bin/sh -c`.

Payload: `{"cmd": "...", "env": {}, "cwd": null, "timeout": s}`. The result is
`{"exitCode": n, "output": <stdout parsed as JSON>}` when stdout is JSON, else
`{"exitCode": n, "stdout": "<last 64 KiB>"}`; ok when the exit code is 0. The environment is the
worker's minus its secrets plus the job identity (see `environment`).
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
    timeout_of,
)

SHELL = "/bin/sh"


class CmdExecutor:
    kind = "cmd"

    def __init__(self, *, kill_grace: float = process.KILL_GRACE) -> None:
        self._kill_grace = kill_grace

    async def execute(
        self,
        payload: dict[str, Any],
        ctx: JobContext,
        timeout: float | None,  # noqa: ASYNC109 -- a default the payload may override, not a cap
    ) -> ExecutionOutcome:
        command = optional_str(payload, "cmd")
        if not command:
            raise PayloadError("cmd payload needs a non-empty 'cmd' string")
        timeout = timeout_of(payload, timeout)
        env = environment.job_environ(ctx, str_map(payload, "env"))
        run = await process.run_process(
            [SHELL, "-c", command],
            env=env,
            cwd=optional_str(payload, "cwd"),
            time_limit=timeout,
            kill_grace=self._kill_grace,
        )
        return process.outcome_of(run, timeout)

    async def aclose(self) -> None:
        return None
