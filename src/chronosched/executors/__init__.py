"""Job executors: run one attempt of a job of a given kind and report its outcome.

No database access here: the worker leases a job, builds a `JobContext`, renders the payload
with `render_payload`, and calls `get_executor(kind).execute(payload, ctx, timeout)`. Create each
executor once per worker and reuse it (the `http` one holds a connection pool); `aclose()` it
on shutdown. The `http` executor (and with it httpx) is imported only by a worker that runs the
`http` kind: it is the heaviest import of a worker's start-up.
"""

from __future__ import annotations

from collections.abc import Iterable

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
        from chronosched.executors.http import HttpExecutor

        return HttpExecutor(allow_link_local=allow_link_local)
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
