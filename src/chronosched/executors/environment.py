"""What a `cmd`/`binary` job's environment holds: the worker's minus secrets, plus the job identity.

Scrubbing rules (DESIGN.md §5, "the worker's own secrets are not passed on"). A variable of the
worker is dropped when its name
- is `DATABASE_URL` or `PGPASSWORD`,
- starts with `CHRONOSCHED_` (the worker's own configuration and tokens; the job identity below
  re-adds the job's own `CHRONOSCHED_*` variables),
- contains `TOKEN`, `SECRET` or `PASSWORD` (case-insensitive).
Then the identity is added (`CHRONOSCHED_JOB_ID`, `CHRONOSCHED_ATTEMPT`, `CHRONOSCHED_DAG_ID`,
`CHRONOSCHED_DEF_NAME`, `CHRONOSCHED_SCHEDULED_FOR`, `CHRONOSCHED_PARENT_RESULTS`), and last the
payload's `env`, which may override anything (it is the job author's explicit choice).

The scrubbed copy of the worker's environment is kept and reused for as long as the environment
is unchanged (checking that is a C-speed dict comparison; scrubbing costs ~50 µs per job).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping

from chronosched.executors.base import JobContext

DROPPED_NAMES = frozenset({"DATABASE_URL", "PGPASSWORD"})
DROPPED_PREFIXES = ("CHRONOSCHED_",)
DROPPED_FRAGMENTS = ("TOKEN", "SECRET", "PASSWORD")


def is_secret(name: str) -> bool:
    """True when the worker must not pass this variable on to a job."""
    upper = name.upper()
    return (
        upper in DROPPED_NAMES
        or upper.startswith(DROPPED_PREFIXES)
        or any(fragment in upper for fragment in DROPPED_FRAGMENTS)
    )


def scrubbed(environ: Mapping[str, str]) -> dict[str, str]:
    return {name: value for name, value in environ.items() if not is_secret(name)}


def identity(ctx: JobContext) -> dict[str, str]:
    """The `CHRONOSCHED_*` variables that let a job make its side effects idempotent."""
    return {
        "CHRONOSCHED_JOB_ID": str(ctx.job_id),
        "CHRONOSCHED_ATTEMPT": str(ctx.attempt),
        "CHRONOSCHED_DAG_ID": ctx.dag_id or "",
        "CHRONOSCHED_DEF_NAME": ctx.def_name,
        "CHRONOSCHED_SCHEDULED_FOR": ctx.scheduled_for.isoformat() if ctx.scheduled_for else "",
        "CHRONOSCHED_PARENT_RESULTS": (
            json.dumps(dict(ctx.parent_results), separators=(",", ":"), ensure_ascii=False)
            if ctx.parent_results
            else "{}"  # most jobs have no parents: skip the encoder
        ),
    }


class _ScrubbedEnviron:
    """`scrubbed(os.environ)`, recomputed only after the environment changed."""

    __slots__ = ("_clean", "_seen")

    def __init__(self) -> None:
        self._seen: dict[object, object] | None = None
        self._clean: dict[str, str] = {}

    def get(self) -> dict[str, str]:
        """The scrubbed environment; the caller must not modify it."""
        # CPython keeps the environment encoded in `_data`; comparing it with our copy is cheap.
        raw = getattr(os.environ, "_data", None)
        if not isinstance(raw, dict):  # another implementation: no shortcut
            return scrubbed(os.environ)
        if raw != self._seen:
            seen = dict(raw)  # before scrubbing: a change meanwhile shows up on the next call
            self._clean = scrubbed(os.environ)
            self._seen = seen
        return self._clean


_worker_environ = _ScrubbedEnviron()


def job_environ(
    ctx: JobContext, extra: Mapping[str, str], base: Mapping[str, str] | None = None
) -> dict[str, str]:
    """Build the child's environment from `base` (default: this process's environment)."""
    env = dict(_worker_environ.get()) if base is None else scrubbed(base)
    env.update(identity(ctx))
    env.update(extra)
    return env
