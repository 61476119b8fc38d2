"""The worker: claim due jobs in batches, run them, store outcomes in batches.

Loops (each an asyncio task, each with its own connection):
- claimer: `_claim_loop` asks for at most the free slots, starts a task per job, sleeps on the
  waker (LISTEN/NOTIFY, due-time timer, fallback poll) when the queue is empty; while a backlog
  lasts, a second claimer (`_helper_claims`) keeps another claim statement in flight;
- completer (`completer.py`): stores outcomes a batch at a time, fenced;
- heartbeat: renews all leases in one statement every lease/3, kills jobs whose lease is lost
  or ran out locally, and updates the worker registry row;
- reaper (`reaper.py`) and listener (`listener.py`).

`run_once()` is the unit tests drive; `run()` loops until stopped (or drained with
`until_empty`) and then shuts down gracefully: stop claiming, keep heartbeating, let running
jobs finish within the grace period, then cancel (the executor kills the process group) and
hand back the rest.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
from collections.abc import Iterable
from typing import Any

from chronosched import metrics
from chronosched.db import migrate, queue_repo
from chronosched.db.pool import Pool
from chronosched.executors import (
    ExecutionOutcome,
    Executor,
    JobContext,
    PayloadError,
    build_executors,
    render_payload,
)
from chronosched.worker import eager
from chronosched.worker.backoff import reconnect_delay, retry_delay
from chronosched.worker.completer import Completer
from chronosched.worker.lane import DB_ERRORS, Lane
from chronosched.worker.lease import Held, LeaseBook
from chronosched.worker.listener import Listener, Waker
from chronosched.worker.reaper import Reaper
from chronosched.worker.settings import WorkerSettings

log = logging.getLogger(__name__)

# Longest wait for more free slots before claiming under a backlog (see _gather_slots): short
# next to any real job, long enough for a few slots of short jobs to free up together.
GATHER_SECONDS = 0.002

# Outcomes waiting to be stored beyond which we stop claiming (only reached while the database
# is unreachable or much slower than the jobs): bounds memory and the leases we renew.
BACKLOG_FACTOR = 4

# Fewest jobs the second claimer asks for (see _helper_claims). A claim of a few jobs is quick
# for the database, and a second one beside it only adds statements: short `cmd` jobs at
# concurrency 16 or 32 ran no faster with it. Large claims (hundreds of jobs, ~7-9 ms each) are
# what it overlaps.
HELPER_MIN_CLAIM = 64


class Worker:
    """One worker process's job loop. Construct with an open pool; `run()` or `run_once()`."""

    def __init__(
        self,
        pool: Pool,
        settings: WorkerSettings | None = None,
        *,
        executors: dict[str, Executor] | None = None,
    ) -> None:
        self.settings = s = settings or WorkerSettings()
        self.id = s.worker_id
        self._pool = pool
        self._executors = executors or build_executors(s.kinds, allow_link_local=s.allow_link_local)
        self._kinds = [k for k in s.kinds if k in self._executors]
        self.book = LeaseBook(self.id, s.lease_seconds)
        self.waker = Waker()
        self._slot_freed = asyncio.Event()
        self.completer = Completer(
            pool, self.book, s.db_timeout_seconds, on_stored=self._slot_freed.set
        )
        self.reaper = Reaper(pool, interval=s.reap_interval, timeout=s.db_timeout_seconds)
        self._claim_lane = Lane(pool, s.db_timeout_seconds)
        self._helper_lane = Lane(pool, s.db_timeout_seconds)
        self._max_backlog = BACKLOG_FACTOR * max(s.batch, s.concurrency)
        self._running = 0
        self._reserved = 0  # slots asked for by claims in flight
        self._backlog = asyncio.Event()  # the last claim got all it asked for
        self._helper_claiming = False  # a claim of the second claimer is in flight
        self._claiming_over = False
        self._stop = asyncio.Event()
        self._hurry = asyncio.Event()
        self._until_empty = False
        self.started = 0  # attempts started by this worker
        self.started_by_helper = 0  # of which the second claimer claimed (see _helper_claims)
        self.killed = 0  # attempts killed because their lease was lost

    # ------------------------------------------------------------------ control

    @property
    def running(self) -> int:
        return self._running

    def request_stop(self, *, immediate: bool = False) -> None:
        """First call: stop claiming and finish within the grace period. A second call (or
        `immediate`) cancels running jobs and hands them back at once."""
        if self._stop.is_set() or immediate:
            self._hurry.set()
        self._stop.set()
        self.waker.set()
        self._slot_freed.set()

    async def run_once(self) -> int:
        """Claim one batch, run it to the end and store the outcomes; returns how many ran."""
        count = await self._claim(min(self.settings.batch, self._free_slots()))
        tasks = [e.task for e in list(self.book.held.values()) if e.task is not None]
        if tasks:
            await asyncio.wait(tasks)
        await self.completer.flush()
        return count

    async def run(self, *, until_empty: bool | None = None) -> None:
        """Work until `request_stop()` (or, with `until_empty`, until nothing is due)."""
        self._until_empty = self.settings.until_empty if until_empty is None else until_empty
        await self._register()
        conninfo = self._pool.conninfo
        if not isinstance(conninfo, str):  # pragma: no cover - we always build pools from a URL
            raise TypeError("the worker's pool needs a plain conninfo string")
        listener = Listener(conninfo, self.waker, self.settings.db_timeout_seconds)
        background = [
            asyncio.create_task(listener.run(), name="listener"),
            asyncio.create_task(self.completer.run(), name="completer"),
            asyncio.create_task(self._heartbeat_loop(), name="heartbeat"),
            asyncio.create_task(self.reaper.run(), name="reaper"),
        ]
        try:
            if not self._until_empty:  # a drain need not wait; a server should not miss a wake
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self.settings.db_timeout_seconds):
                        await listener.connected.wait()
            await self._claim_loop()
            await self._shutdown()
        finally:
            for task in background:
                task.cancel()
            await asyncio.gather(*background, return_exceptions=True)
            await self._close()

    # ------------------------------------------------------------------ claiming

    def _free_slots(self) -> int:
        """Slots no running job, unstored outcome or claim in flight takes up."""
        return (
            min(
                self.settings.concurrency - self._running,
                self._max_backlog - self.completer.backlog,
            )
            - self._reserved
        )

    async def _claim(self, limit: int, lane: Lane | None = None) -> int:
        """Claim up to `limit` jobs (on the main claim lane unless `lane`) and start them."""
        if limit <= 0:
            return 0
        sent_at = time.monotonic()
        self._reserved += limit  # at once: the other claimer must not ask for these slots
        jobs: list[queue_repo.ClaimedJob] = []
        try:
            jobs = await (lane or self._claim_lane).call(
                queue_repo.claim,
                owner=self.id,
                limit=limit,
                lease_seconds=self.settings.lease_seconds,
                kinds=self._kinds,
            )
        finally:
            self._reserved -= limit
            if len(jobs) < limit:  # reserved slots it did not fill are free again: the other
                self._slot_freed.set()  # claimer may be waiting for exactly those
        if len(jobs) == limit:
            self._backlog.set()
        else:
            self._backlog.clear()
        self._running += len(jobs)  # before the jobs start: a job's end counts itself off
        self.started += len(jobs)
        add = self.book.add
        for job in jobs:
            entry = add(job, sent_at)
            try:
                entry.task = eager.start(self._execute(entry))
            except Exception:  # pragma: no cover - _execute turns executor errors into outcomes
                log.exception("storing the outcome of job %d failed", job.id)
        metrics.record_claims(jobs)
        return len(jobs)

    def _gather_target(self) -> int:
        return max(1, min(self.settings.batch, self.settings.concurrency // 4))

    async def _gather_slots(self) -> None:
        """Under a backlog, wait a moment for a quarter of the slots (or a batch) to free up.

        Claiming after every freed slot costs one claim transaction per job (cmd jobs ran at
        57% of the raw spawn rate that way); the wait is bounded by GATHER_SECONDS, and an idle
        worker never waits (a claim that found fewer jobs than it asked for clears the flag).
        """
        wanted = self._gather_target()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(GATHER_SECONDS):
                while self._free_slots() < wanted and not self._stop.is_set():
                    self._slot_freed.clear()
                    await self._slot_freed.wait()

    async def _claim_loop(self) -> None:
        s = self.settings
        if min(s.concurrency, s.batch) < HELPER_MIN_CLAIM:  # it could never claim
            await self._main_claims()
            return
        helper = asyncio.create_task(self._helper_claims(), name="helper-claimer")
        try:
            await self._main_claims()
        except BaseException:
            helper.cancel()
            raise
        finally:
            self._claiming_over = True
            self._backlog.set()  # wake the helper so that it sees it is over
            self._slot_freed.set()
            await asyncio.gather(helper, return_exceptions=True)

    async def _main_claims(self) -> None:
        failures = 0
        backlog = False  # the last claim got all it asked for: more jobs are probably due
        while not self._stop.is_set():
            if backlog:
                await self._gather_slots()
            free = self._free_slots()
            if free <= 0:
                self._slot_freed.clear()
                await self._slot_freed.wait()
                continue
            limit = min(free, self.settings.batch)
            # Nothing running, unstored or being claimed by the helper (which claims only while
            # a backlog lasts): an empty claim then means the queue is drained.
            quiet = (
                self._running == 0
                and self.completer.backlog == 0
                and not self._backlog.is_set()
                and not self._helper_claiming
            )
            self.waker.clear()  # before the claim: a notification during it is not lost
            try:
                count = await self._claim(limit)
                if count == 0:
                    wait = await self._claim_lane.call(queue_repo.next_due_in)
                    if wait is not None:
                        self.waker.wake_in(wait)
            except DB_ERRORS as exc:
                failures += 1
                delay = reconnect_delay(failures)
                log.warning("claiming failed (%s); retrying in %.1fs", migrate.explain(exc), delay)
                await self._sleep_unless_stopped(delay)
                continue
            failures = 0
            backlog = count == limit
            if count > 0:
                continue  # more may be due; an empty claim decides when to sleep
            if self._until_empty and await self._drained(quiet):
                return
            await self.waker.wait(self.settings.poll_seconds)

    async def _drained(self, quiet: bool) -> bool:
        """`until_empty`: nothing was running or unstored before an empty claim."""
        if quiet:
            return True
        if self._running == 0:
            with contextlib.suppress(*DB_ERRORS):
                await self.completer.flush()  # its completions may ready children: claim again
            self.waker.set()
        return False

    async def _helper_claims(self) -> None:
        """A second claim statement in flight while a backlog lasts.

        With one claim lane, one database backend executes every claim while the others store
        outcomes: a 500-job claim takes ~7-9 ms there, and one worker process drained ~40k no-op
        jobs/s with a fifth of the two cores idle (a second lane: ~44k). It claims beside the
        main loop whenever the last claim came back full and at least HELPER_MIN_CLAIM slots
        are free (claims in flight reserve theirs), and stops as soon as a claim comes back
        short; the main loop alone handles waking up, idling and draining, so an idle worker
        still sends one claim per wake-up. A worker whose concurrency or batch is below
        HELPER_MIN_CLAIM (the defaults, 32 and 100) does without it.
        """
        while True:
            await self._backlog.wait()
            if self._claiming_over or self._stop.is_set():
                return
            free = self._free_slots()
            if free < max(HELPER_MIN_CLAIM, self._gather_target()):  # wait, then look again
                self._slot_freed.clear()
                await self._slot_freed.wait()
                continue
            self._helper_claiming = True
            try:
                self.started_by_helper += await self._claim(
                    min(free, self.settings.batch), lane=self._helper_lane
                )
            except DB_ERRORS as exc:  # the main loop backs off and retries; follow its lead
                self._backlog.clear()
                log.warning("a second claim failed (%s)", migrate.explain(exc))
            finally:
                self._helper_claiming = False

    async def _sleep_unless_stopped(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self._stop.wait()

    # ------------------------------------------------------------------ running one job

    async def _execute(self, entry: Held) -> None:
        job = entry.job
        ctx = JobContext(
            job.id,
            job.attempt,
            job.max_attempts,
            job.dag_id,
            job.def_name,
            job.kind,
            job.scheduled_for,
            job.parent_results or {},
        )
        retryable = True
        try:
            try:
                payload = render_payload(job.payload, ctx)
                outcome = await self._executors[job.kind].execute(payload, ctx, job.timeout_seconds)
            except PayloadError as exc:
                outcome = ExecutionOutcome(False, None, f"invalid payload: {exc}")
                retryable = False
            except Exception as exc:  # an executor bug must fail the job, not the worker
                log.exception(
                    "executor %s failed on job %d",
                    job.kind,
                    job.id,
                    extra={"job_id": job.id, "dag_id": job.dag_id, "attempt": job.attempt},
                )
                outcome = ExecutionOutcome(False, None, f"{type(exc).__name__}: {exc}")
        finally:
            self._running -= 1
            self._slot_freed.set()
            if self._until_empty and self._running == 0:
                self.waker.set()
        if entry.lost:
            self.book.discard(entry)
            return
        self._report(entry, outcome, retryable)

    def _report(self, entry: Held, outcome: ExecutionOutcome, retryable: bool) -> None:
        job = entry.job
        logs = None
        # A silent success (exit 0, no output) leaves no log row: its exit code is in the result.
        if outcome.stdout or outcome.stderr or outcome.error:
            logs = queue_repo.LogRecord(
                job.id, job.attempt, outcome.stdout, outcome.stderr, outcome.error,
                outcome.exit_code,
            )  # fmt: skip
        if outcome.ok:
            self.completer.succeed(entry, outcome.result, logs)
            return
        delay = retry_delay(job.attempt, job.backoff_base_seconds, job.backoff_max_seconds)
        failure = queue_repo.Failure(
            job.id, job.attempt, outcome.error or "failed", outcome.result, retryable, delay
        )
        self.completer.fail(entry, failure, logs)

    def _kill(self, entry: Held, reason: str) -> None:
        """Stop a job we no longer own: cancelling its task kills its process group."""
        entry.lost = True
        self.book.discard(entry)
        if entry.task is not None and not entry.task.done():
            self.killed += 1
            metrics.LEASES_LOST.inc()
            log.warning(
                "killing job %d attempt %d: %s",
                entry.job.id,
                entry.job.attempt,
                reason,
                extra={"job_id": entry.job.id, "dag_id": entry.job.dag_id, "worker_id": self.id},
            )
            entry.task.cancel()

    # ------------------------------------------------------------------ leases and registry

    async def _heartbeat_loop(self) -> None:
        lane = Lane(self._pool, self.settings.db_timeout_seconds)
        interval = self.settings.heartbeat_seconds
        # Local expiry is checked more often than we renew, so a job that cannot be renewed is
        # killed soon after its lease ends, before another worker's reaper can hand it out.
        tick = min(interval, self.settings.lease_seconds / 8, 1.0)
        next_renew = time.monotonic() + interval
        try:
            while True:
                await asyncio.sleep(tick)
                now = time.monotonic()
                for entry in self.book.expired(now):
                    self._kill(entry, "its lease could not be renewed in time")
                if now < next_renew:
                    continue
                try:
                    for entry in await lane.call(self.book.renew):
                        if entry.running:
                            self._kill(entry, "its lease was lost (expired, cancelled or re-run)")
                    await lane.call(
                        queue_repo.worker_heartbeat, worker_id=self.id, running=self._running
                    )
                    next_renew = now + interval
                except DB_ERRORS as exc:
                    log.warning("heartbeat failed (%s); retrying", migrate.explain(exc))
        finally:
            await lane.close()

    async def _register(self) -> None:
        lane = Lane(self._pool, self.settings.db_timeout_seconds)
        failures = 0
        try:
            while not self._stop.is_set():
                try:
                    await lane.call(
                        queue_repo.register_worker,
                        worker_id=self.id,
                        host=socket.gethostname(),
                        pid=os.getpid(),
                        kinds=self._kinds,
                        concurrency=self.settings.concurrency,
                    )
                    return
                except DB_ERRORS as exc:
                    failures += 1
                    log.warning("registering the worker failed (%s)", migrate.explain(exc))
                    await self._sleep_unless_stopped(reconnect_delay(failures))
        finally:
            await lane.close()

    # ------------------------------------------------------------------ shutdown

    async def _shutdown(self) -> None:
        grace = self.settings.grace_seconds
        if self._running:
            log.info("stopping: waiting up to %.0fs for %d job(s)", grace, self._running)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + grace
        while self._running and not self._hurry.is_set() and loop.time() < deadline:
            self._slot_freed.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(deadline - loop.time()):
                    await self._slot_freed.wait()
        leftovers = [e for e in self.book.held.values() if e.running]
        for entry in leftovers:
            entry.cancelled_for_shutdown = True
            assert entry.task is not None
            entry.task.cancel()
        if leftovers:
            await asyncio.wait([e.task for e in leftovers if e.task is not None])
        await self._retry_until(self.completer.flush, deadline=loop.time() + 5)
        if leftovers:
            await self._retry_until(lambda: self._release(leftovers), deadline=loop.time() + 5)

    async def _release(self, entries: Iterable[Held]) -> None:
        held = [(e.job.id, e.job.attempt) for e in entries if not e.lost]
        released = await self._claim_lane.call(queue_repo.release, owner=self.id, held=held)
        log.info("handed back %d unfinished job(s)", len(released))
        for entry in entries:
            self.book.discard(entry)

    async def _retry_until(self, step: Any, *, deadline: float) -> None:
        """Shutdown steps retry through a short outage; past `deadline` the leases expire
        instead and the jobs are re-run elsewhere (nothing is lost either way)."""
        loop = asyncio.get_running_loop()
        failures = 0
        while True:
            try:
                await step()
                return
            except DB_ERRORS as exc:
                failures += 1
                if loop.time() >= deadline:
                    log.warning(
                        "giving up at shutdown (%s); leases will expire instead",
                        migrate.explain(exc),
                    )
                    return
                await asyncio.sleep(reconnect_delay(failures))

    async def _close(self) -> None:
        lane = Lane(self._pool, self.settings.db_timeout_seconds)
        with contextlib.suppress(*DB_ERRORS):
            await lane.call(queue_repo.worker_stopped, worker_id=self.id)
        await lane.close()
        await self.aclose()

    async def aclose(self) -> None:
        """Give back connections and close the executors (`run()` does this itself)."""
        await self._claim_lane.close()
        await self._helper_lane.close()
        await self.completer.close()
        self.waker.close()
        for executor in self._executors.values():
            with contextlib.suppress(Exception):
                await executor.aclose()
