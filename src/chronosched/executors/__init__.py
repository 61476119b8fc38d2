"""Job executors: run one attempt of a job of a given kind and report its outcome.

No database access here: the worker leases a job, builds a `JobContext`, renders the payload
with `render_payload`, and calls `get_executor(kind).execute(payload, ctx, timeout)`. Create each
executor once per worker and reuse it (the `http` one holds a connection pool); `aclose()` it
on shutdown. The `http` executor (and with it httpx, the heaviest import of a worker's start-up,
~0.1 s) is imported when the first `http` job runs, so a worker accepting every kind starts as
fast as one that does not accept `http`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from chronosched.executors.base import (
    OUTPUT_LIMIT,
    ExecutionOutcome,
    Executor,
    JobContext,
    PayloadError,
)
from chronosched.executors.binary import BinaryExecutor
from chronosched.executors.cmd import CmdExecutor
from chronosched.executors.process import KILL_GRACE
from chronosched.executors.python import PythonExecutor
from chronosched.executors.templating import render_payload

if TYPE_CHECKING:
    from chronosched.executors.http import HttpExecutor

EXECUTOR_KINDS = ("cmd", "http", "binary", "python")

__all__ = [
    "EXECUTOR_KINDS",
    "OUTPUT_LIMIT",
    "ExecutionOutcome",
    "Executor",
    "JobContext",
    "PayloadError",
    "build_executors",
    "get_executor",
    "render_payload",
]


def get_executor(
    kind: str, *, allow_link_local: bool = False, kill_grace: float = KILL_GRACE
) -> Executor:
    """A new executor for `kind`; ValueError for a kind we do not know.

    `allow_link_local` lets `http` jobs reach 169.254.0.0/16 and friends (cloud metadata);
    `kill_grace` is the SIGTERM -> SIGKILL delay for `cmd`/`binary` process groups.
    """
    if kind == "cmd":
        return CmdExecutor(kill_grace=kill_grace)
    if kind == "binary":
        return BinaryExecutor(kill_grace=kill_grace)
    if kind == "http":
        return _DeferredHttpExecutor(allow_link_local=allow_link_local)
    if kind == "python":
        return PythonExecutor()
    raise ValueError(f"unknown executor kind {kind!r}; expected one of {', '.join(EXECUTOR_KINDS)}")


def build_executors(
    kinds: Iterable[str] = EXECUTOR_KINDS,
    *,
    allow_link_local: bool = False,
    kill_grace: float = KILL_GRACE,
) -> dict[str, Executor]:
    """One executor per accepted kind (a worker's `--kinds cmd,http`)."""
    return {
        kind: get_executor(kind, allow_link_local=allow_link_local, kill_grace=kill_grace)
        for kind in dict.fromkeys(kinds)
    }


class _DeferredHttpExecutor:
    """`http.HttpExecutor`, imported and built when the first `http` job runs."""

    kind = "http"

    def __init__(self, *, allow_link_local: bool) -> None:
        self.allow_link_local = allow_link_local
        self._executor: Executor | None = None
        self._lock = asyncio.Lock()

    async def execute(
        self,
        payload: dict[str, Any],
        ctx: JobContext,
        timeout: float | None,  # noqa: ASYNC109 -- a default the payload may override, not a cap
    ) -> ExecutionOutcome:
        return await (await self._loaded()).execute(payload, ctx, timeout)

    async def _loaded(self) -> Executor:
        if self._executor is None:
            async with self._lock:  # the first jobs of a batch wait for one import
                if self._executor is None:
                    # In a thread: the import must not stall the event loop (heartbeats, jobs).
                    http_executor = await asyncio.to_thread(_import_http_executor)
                    self._executor = http_executor(allow_link_local=self.allow_link_local)
        return self._executor

    async def aclose(self) -> None:
        if self._executor is not None:
            await self._executor.aclose()


def _import_http_executor() -> type[HttpExecutor]:
    from chronosched.executors.http import HttpExecutor

    return HttpExecutor
