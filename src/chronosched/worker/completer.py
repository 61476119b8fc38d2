"""Batched, fenced completion: finished jobs are stored a batch at a time.

One `complete` statement per batch instead of one transaction per job is the biggest single
throughput win for a PostgreSQL queue (graphile-worker here: 2.4k -> 15.7k jobs/s; River
~10k -> ~46k). There is no fixed linger: a batch is sent as soon as the previous one is done, so
an idle worker stores a result at once (DAG hop latency) while a busy one naturally gathers
hundreds of results during each round trip.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Callable
from typing import Any

from chronosched import metrics
from chronosched.db import migrate, queue_repo
from chronosched.db.pool import AsyncConn, Pool
from chronosched.worker.backoff import reconnect_delay
from chronosched.worker.lane import DB_ERRORS, Lane
from chronosched.worker.lease import Held, LeaseBook

log = logging.getLogger(__name__)

MAX_STATEMENT_ROWS = 1000  # rows per statement: bigger batches gained < 10% in PERFORMANCE.md
# Completion statements in flight at once. In-process drain of 20,000 no-op jobs on 2 cores:
# 1 lane ~7.4k jobs/s (the claimer waited on the backlog), 2 lanes 12-16k, 3 lanes 19-22k.
LANES = 3
# Outcomes pending before a second lane sends them while one is already storing a batch. Below
# this, they wait for that lane (one statement in flight): a worker of short `cmd` jobs sent
# completions of ~5 outcomes on three lanes, ~0.4 ms of database CPU each, which it spends on
# the jobs' own processes instead. A drain's backlog is far above it, so every lane runs there.
SPREAD_ROWS = 16


@dataclasses.dataclass(slots=True)
class _Batch:
    done: list[tuple[Held, Any]] = dataclasses.field(default_factory=list)
    failed: list[tuple[Held, queue_repo.Failure]] = dataclasses.field(default_factory=list)
    logs: list[queue_repo.LogRecord] = dataclasses.field(default_factory=list)

    def __len__(self) -> int:
        return len(self.done) + len(self.failed)

    def take(self, limit: int) -> _Batch:
        """Split off up to `limit` outcomes (and all logs) into a batch of their own."""
        taken = _Batch(self.done[:limit], self.failed[: max(0, limit - len(self.done))])
        del self.done[: len(taken.done)]
        del self.failed[: len(taken.failed)]
        taken.logs, self.logs = self.logs, []
        return taken


class Completer:
    """Collects outcomes from finished jobs and stores them in batches."""

    def __init__(
        self,
        pool: Pool,
        book: LeaseBook,
        timeout: float,
        on_stored: Callable[[], None] = lambda: None,
        lanes: int = LANES,
    ) -> None:
        self._book = book
        self._on_stored = on_stored  # the claimer may wait for the backlog to shrink
        self._lanes = [Lane(pool, timeout) for _ in range(max(1, lanes))]
        self._pending = _Batch()
        self._has_items = asyncio.Event()
        self._wake = asyncio.Event()  # a lane finished, or enough is pending for another lane
        self._busy = 0  # lanes storing a batch right now
        self._inflight = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self._failures = 0
        self.stored = 0  # outcomes the database accepted (for tests, logs and benchmarks)
        self.dropped = 0  # outcomes refused because the lease was no longer ours

    @property
    def backlog(self) -> int:
        """Outcomes not stored yet (their leases are still held and renewed)."""
        return len(self._pending) + self._inflight

    def succeed(self, entry: Held, result: Any, logs: queue_repo.LogRecord | None) -> None:
        self._pending.done.append((entry, result))
        if logs is not None:
            self._pending.logs.append(logs)
        self._added()

    def fail(
        self, entry: Held, failure: queue_repo.Failure, logs: queue_repo.LogRecord | None
    ) -> None:
        self._pending.failed.append((entry, failure))
        if logs is not None:
            self._pending.logs.append(logs)
        self._added()

    def _added(self) -> None:
        self._has_items.set()
        if len(self._pending) >= SPREAD_ROWS:
            self._wake.set()

    async def close(self) -> None:
        for lane in self._lanes:
            await lane.close()

    async def run(self) -> None:
        """Store outcomes until cancelled, on every lane at once."""
        await asyncio.gather(*(self._run_lane(lane) for lane in self._lanes))

    async def _run_lane(self, lane: Lane) -> None:
        while True:
            await self._has_items.wait()
            await asyncio.sleep(0)  # jobs finishing in this same loop turn join the batch
            if self._busy and len(self._pending) < SPREAD_ROWS:
                self._wake.clear()  # a few outcomes: let them gather behind the lane at work
                await self._wake.wait()
                continue
            try:
                await self._store_some(lane)
            except DB_ERRORS as exc:
                self._failures += 1
                delay = reconnect_delay(self._failures)
                log.warning(
                    "storing results failed (%s); retrying in %.1fs", migrate.explain(exc), delay
                )
                await asyncio.sleep(delay)

    async def flush(self) -> None:
        """Store everything pending now and wait for batches in flight; raises on a database
        error (the unstored part stays pending)."""
        while len(self._pending) or self._pending.logs:
            await self._store_some(self._lanes[0])
        await self._idle.wait()

    async def _store_some(self, lane: Lane) -> None:
        batch = self._pending.take(MAX_STATEMENT_ROWS)
        if not len(self._pending) and not self._pending.logs:
            self._has_items.clear()
        if not len(batch) and not batch.logs:
            return
        size = len(batch)
        self._inflight += size
        self._busy += 1
        self._idle.clear()
        try:
            await lane.call(self._store, batch)
        except BaseException:
            self._requeue(batch)
            raise
        finally:
            self._inflight -= size
            self._busy -= 1
            self._wake.set()
            if not self._inflight:
                self._idle.set()
        self._failures = 0
        self._on_stored()

    def _requeue(self, batch: _Batch) -> None:
        self._pending.done[:0] = batch.done
        self._pending.failed[:0] = batch.failed
        self._pending.logs[:0] = batch.logs
        if len(self._pending) or self._pending.logs:
            self._has_items.set()

    async def _store(self, conn: AsyncConn, batch: _Batch) -> None:
        """Logs first (an idempotent upsert), then each outcome list; a step that succeeded is
        emptied so that a retry after an error does not repeat it."""
        owner = self._book.owner
        if batch.logs:
            await queue_repo.save_logs(conn, worker_id=owner, records=batch.logs)
            batch.logs = []
        if batch.failed:
            statuses = await queue_repo.fail(
                conn, owner=owner, failures=[failure for _, failure in batch.failed]
            )
            self._settle([entry for entry, _ in batch.failed], statuses.keys())
            for outcome in ("queued", "failed"):
                metrics.record_outcomes(
                    (e.job.kind for e, _ in batch.failed if statuses.get(e.job.id) == outcome),
                    "retried" if outcome == "queued" else "failed",
                )
            batch.failed = []
        if batch.done:
            accepted = await queue_repo.complete(
                conn, owner=owner, done=[(e.job.id, e.job.attempt, r) for e, r in batch.done]
            )
            entries = [entry for entry, _ in batch.done]
            self._settle(entries, accepted)
            metrics.record_outcomes(
                (e.job.kind for e in entries)  # all of them, as a rule
                if len(accepted) == len(entries)
                else (e.job.kind for e in entries if e.job.id in accepted),
                "succeeded",
            )
            batch.done = []

    def _settle(self, entries: list[Held], accepted: Any) -> None:
        discard = self._book.discard
        for entry in entries:
            discard(entry)
        refused = len(entries) - len(accepted)
        self.stored += len(accepted)
        if refused:
            self.dropped += refused
            stale = [e.job.id for e in entries if e.job.id not in accepted]
            log.warning("dropped the outcome of %d job(s) whose lease was lost: %s", refused, stale)
