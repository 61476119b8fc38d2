"""The worker's configuration: one validated object, built by the CLI from flags and env vars."""

from __future__ import annotations

import os
import socket
import uuid

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from chronosched.executors import EXECUTOR_KINDS


def default_worker_id() -> str:
    """host:pid:random — unique per process, readable in the registry and in lease owners."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class WorkerSettings(BaseModel):
    """How one worker process claims, runs and reports jobs."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    worker_id: str = Field(default_factory=default_worker_id, min_length=1, max_length=200)
    # Jobs running at once. Pre-claimed jobs never wait locally: a claim asks for at most the
    # free slots, so another idle worker is never starved by jobs parked in this process.
    concurrency: int = Field(default=32, ge=1, le=10_000)
    # Jobs per claim statement (capped by free slots). One statement per batch is what makes a
    # PostgreSQL queue fast: 18.7k/23.6k/27.9k jobs/s at batch 50/200/1000 (PERFORMANCE.md).
    batch: int = Field(default=100, ge=1, le=5_000)
    kinds: tuple[str, ...] = EXECUTOR_KINDS
    lease_seconds: float = Field(default=30.0, gt=0, le=3600)  # heartbeat every lease / 3
    # Fallback poll: a lost notification costs at most this much latency.
    poll_seconds: float = Field(default=2.0, gt=0, le=300)
    grace_seconds: float = Field(default=30.0, ge=0)
    # Client-side bound of every database call (the server's statement_timeout is the same).
    db_timeout_seconds: float = Field(default=10.0, gt=0, le=600)
    # Reaper period: expired leases are re-queued within lease + this.
    reap_seconds: float | None = Field(default=None, gt=0)
    allow_link_local: bool = False
    until_empty: bool = False

    @field_validator("kinds", mode="before")
    @classmethod
    def _split_kinds(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(k.strip() for k in value.split(",") if k.strip())
        return value

    @model_validator(mode="after")
    def _known_kinds(self) -> WorkerSettings:
        unknown = set(self.kinds) - set(EXECUTOR_KINDS)
        if unknown or not self.kinds:
            raise ValueError(
                f"kinds must be a non-empty subset of {', '.join(EXECUTOR_KINDS)}; "
                f"got {', '.join(self.kinds) or 'nothing'}"
            )
        return self

    @property
    def heartbeat_seconds(self) -> float:
        """Renew leases three times per lease, so two lost heartbeats in a row are survivable."""
        return self.lease_seconds / 3

    @property
    def reap_interval(self) -> float:
        """Default: half a lease, between 1 s and 15 s — one indexed query, cheap to repeat."""
        if self.reap_seconds is not None:
            return self.reap_seconds
        return min(15.0, max(1.0, self.lease_seconds / 2))
