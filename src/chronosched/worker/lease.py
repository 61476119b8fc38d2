"""The leases a worker holds, renewed together, with a local deadline for each.

The database decides who owns a job (fenced by id, attempt and owner). Locally we keep, per
held job, the latest moment its lease is surely still ours: the time we *sent* the claim or the
last successful renewal, plus the lease. A job that passes that moment while still running is
killed and its result dropped, because another worker may already be running it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time

from chronosched.db import queue_repo
from chronosched.db.pool import AsyncConn


@dataclasses.dataclass(slots=True, eq=False)
class Held:
    """One leased job, from claim until its outcome is stored (or its lease is lost)."""

    job: queue_repo.ClaimedJob
    expires: float  # time.monotonic() by which the lease is surely renewed, or lost
    task: asyncio.Task[None] | None = None
    lost: bool = False  # the database says it is no longer ours: drop whatever it produces
    cancelled_for_shutdown: bool = False

    @property
    def running(self) -> bool:
        return self.task is not None and not self.task.done()


class LeaseBook:
    """Every job this worker holds, by id."""

    def __init__(self, owner: str, lease_seconds: float) -> None:
        self.owner = owner
        self.lease_seconds = lease_seconds
        self.held: dict[int, Held] = {}

    def __len__(self) -> int:
        return len(self.held)

    def add(self, job: queue_repo.ClaimedJob, sent_at: float) -> Held:
        entry = Held(job, sent_at + self.lease_seconds)
        self.held[job.id] = entry
        return entry

    def discard(self, entry: Held) -> None:
        """Forget `entry` (outcome stored, dropped or handed back); a newer claim is kept."""
        if self.held.get(entry.job.id) is entry:
            del self.held[entry.job.id]

    async def renew(self, conn: AsyncConn) -> list[Held]:
        """Renew every lease in one statement; returns the entries the database says we lost."""
        snapshot = [e for e in self.held.values() if not e.lost]
        if not snapshot:
            return []
        sent_at = time.monotonic()
        still = await queue_repo.renew(
            conn,
            owner=self.owner,
            held=[(e.job.id, e.job.attempt) for e in snapshot],
            lease_seconds=self.lease_seconds,
        )
        lost = []
        for entry in snapshot:
            if entry.job.id in still:
                entry.expires = sent_at + self.lease_seconds
            elif self.held.get(entry.job.id) is entry:
                # Either really lost, or completed by our own completer a moment ago: only a
                # job still running is killed; a finished one is settled by the completer.
                lost.append(entry)
        return lost

    def expired(self, now: float) -> list[Held]:
        """Running jobs whose lease may already belong to someone else."""
        return [e for e in self.held.values() if e.expires <= now and not e.lost and e.running]
