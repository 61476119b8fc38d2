"""The cron scheduler: `Scheduler.tick(now)` is one round; `Scheduler.run()` loops it.

A round loads every live cron definition with its position, plans each (`planning.plan`), then
in ONE transaction moves the positions it planned with a compare-and-set, inserts one job per
fired tick in one batched statement (`ON CONFLICT (def_id, scheduled_for) DO NOTHING`) and stores
the events (a round of more than `SPLIT_ROUND_AT` positions: two such transactions at once, each
for half of them). Any number of replicas run the same rounds with no leader: the
compare-and-set gives each stretch of ticks to exactly one of them, and the unique tick key
stays as the last guard.

Time is the database's: a round's `now` is `SELECT now()`; the host clock is only used to sleep,
through the offset to the database clock measured on every round.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import psycopg
import psycopg_pool

from chronosched import cron, metrics
from chronosched.db import jobs_repo, metrics_repo, migrate, queue_repo, scheduler_repo
from chronosched.db.pool import AsyncConn, Pool
from chronosched.scheduler import planning
from chronosched.scheduler.listener import DefinitionListener

log = logging.getLogger(__name__)

DB_ERRORS: tuple[type[BaseException], ...] = (
    psycopg.Error,
    psycopg_pool.PoolTimeout,
    OSError,
    TimeoutError,
)
_WAKE_AFTER_TICK = 0.001  # seconds: land just after the tick (the clock reading is good to ~0.2 ms)
# How long before a tick its round is planned: twice the last planning time, within these
# bounds (seconds). 1,000 `@every 1s` definitions plan in ~25 ms on our 2-core machines.
_MIN_LEAD, _MAX_LEAD = 0.01, 0.5
# A round that moves more positions than this is committed as two transactions in parallel
# (see `Scheduler._commit`); 1,000 positions took ~30 ms of server time in one.
SPLIT_ROUND_AT = 200


@dataclasses.dataclass(frozen=True, slots=True)
class SchedulerSettings:
    """Tuning; the CLI exposes each as a flag with a CHRONOSCHED_SCHEDULER_… twin."""

    grace: timedelta = planning.MISFIRE_GRACE
    # Longest sleep between rounds even with no tick due: a fallback for a lost NOTIFY. It must
    # stay below `grace`, or a new definition's first tick could be treated as missed.
    max_sleep: float = 2.0
    reap_interval: float = 5.0  # seconds between runs of the lease reaper


@dataclasses.dataclass(frozen=True, slots=True)
class TickReport:
    """What one round did (tests assert on it; `run()` uses `next_tick` and `replan`)."""

    now: datetime
    definitions: int
    fired: tuple[tuple[str, datetime], ...] = ()  # (def_id, tick) jobs this replica inserted
    events: tuple[planning.Event, ...] = ()
    lost: int = 0  # positions another replica moved first
    replan: bool = False  # one of them moved only part of the way: plan again at once
    next_tick: datetime | None = None


class _DbClock:
    """The offset between the database clock and the event loop's monotonic clock."""

    def __init__(self) -> None:
        self.offset: float | None = None  # database epoch seconds minus loop.time()

    def observe(self, db_now: datetime, sent: float, received: float) -> None:
        self.offset = db_now.timestamp() - (sent + received) / 2

    def seconds_until(self, instant: datetime, loop_time: float) -> float:
        if self.offset is None:
            return 0.0
        return instant.timestamp() - (loop_time + self.offset)


@dataclasses.dataclass(frozen=True, slots=True)
class _Committed:
    """What one transaction of a round did."""

    fired: tuple[tuple[str, datetime], ...]
    events: list[planning.Event]
    lost: int
    replan: bool


def _key(definition: planning.CronDefinition) -> scheduler_repo.Key:
    return (definition.namespace_id, definition.name)


class Scheduler:
    """Fires cron ticks. Safe to run as many replicas as you like."""

    def __init__(
        self, pool: Pool, conninfo: str, settings: SchedulerSettings | None = None
    ) -> None:
        self._pool = pool
        self._settings = settings or SchedulerSettings()
        self._clock = _DbClock()
        self._wake = asyncio.Event()
        self._stopping = False
        self._listener = DefinitionListener(conninfo, self._wake.set)
        self._bad_specs: set[str] = set()
        self._lead = 0.05  # seconds; see _MIN_LEAD
        self.rounds = 0

    # ------------------------------------------------------------------ one round

    async def tick(self, now: datetime | None = None) -> TickReport:
        """Fire every tick due at `now` (default: the database's now) that no replica fired."""
        db_now, definitions = await self._load()
        return await self._fire(definitions, db_now if now is None else now)

    async def _tick_ahead(self, target: datetime) -> TickReport:
        """A round planned shortly before tick `target` and committed at it.

        Loading and planning 1,000 definitions takes tens of milliseconds; doing it ahead keeps
        that off the fire time. The claim refuses positions the database clock has not reached,
        so an early wake-up never fires early (it asks for a new round instead).
        """
        db_now, definitions = await self._load()
        if target <= db_now:  # woke late: a plain round
            return await self._fire(definitions, db_now)
        return await self._fire(definitions, target, not_early=True)

    async def _load(self) -> tuple[datetime, list[planning.CronDefinition]]:
        loop = asyncio.get_running_loop()
        async with self._pool.connection() as conn:
            db_now, definitions = await scheduler_repo.load_definitions(conn)
            # The clock is read on a statement of its own (autocommit: now() is when the server
            # began it): the midpoint of loading 1,000 definitions (~10 ms with decoding) put
            # the database's clock ~5 ms early, and the round woke that much after its tick.
            sent = loop.time()
            reading = await metrics_repo.database_now(conn)
            self._clock.observe(reading, sent, loop.time())
        return db_now, definitions

    async def _fire(
        self,
        definitions: list[planning.CronDefinition],
        now: datetime,
        *,
        not_early: bool = False,
    ) -> TickReport:
        loop = asyncio.get_running_loop()
        began = loop.time()
        plans = self._plan_all(definitions, now)
        work = [p for p in plans if p.advance_to is not None]
        report = TickReport(now, len(definitions), next_tick=planning.earliest(plans))
        self.rounds += 1
        if not_early:
            self._lead = min(_MAX_LEAD, max(_MIN_LEAD, 2 * (loop.time() - began) + _MIN_LEAD))
            wait = self._clock.seconds_until(now, loop.time()) + _WAKE_AFTER_TICK
            await asyncio.sleep(max(0.0, wait))
        if not work:
            return report
        return await self._commit(work, report, not_early=not_early)

    def _plan_all(
        self, definitions: Sequence[planning.CronDefinition], now: datetime
    ) -> list[planning.Plan]:
        plans = []
        for definition in definitions:
            try:
                plans.append(planning.plan(definition, now, self._settings.grace))
            except cron.CronSpecError as exc:  # refused at creation; a tzdata change may do it
                if definition.def_id not in self._bad_specs:
                    self._bad_specs.add(definition.def_id)
                    log.error("definition %s: cannot schedule: %s", definition.def_id, exc)
        return plans

    async def _commit(
        self, work: list[planning.Plan], report: TickReport, *, not_early: bool = False
    ) -> TickReport:
        """Claim the planned positions, then insert jobs and events for the ones we won.

        A round of more than `SPLIT_ROUND_AT` positions goes out as two transactions at once,
        each for half the positions (in key order, as every claim locks them): PostgreSQL works
        on both halves on two cores, and each half is atomic on its own, so a failure of one
        leaves its ticks to the next round, fired exactly once as always.
        """
        claims = sorted(
            (
                scheduler_repo.Claim(
                    key=_key(p.definition),
                    def_id=p.definition.def_id,
                    expected=p.definition.last_tick,
                    last_tick=p.advance_to,
                    last_fired=p.fire[-1] if p.fire else None,
                )
                for p in work
                if p.advance_to is not None
            ),
            key=lambda c: c.key,
        )
        plans = {_key(p.definition): p for p in work}
        if len(claims) > SPLIT_ROUND_AT:
            half = len(claims) // 2
            outcomes = await asyncio.gather(
                self._commit_part(claims[:half], plans, not_early),
                self._commit_part(claims[half:], plans, not_early),
                return_exceptions=True,  # both transactions end before the round does
            )
            for outcome in outcomes:
                if isinstance(outcome, BaseException):
                    raise outcome
            parts = [o for o in outcomes if not isinstance(o, BaseException)]
        else:
            parts = [await self._commit_part(claims, plans, not_early)]
        fired = tuple(tick for part in parts for tick in part.fired)
        events = [event for part in parts for event in part.events]
        if fired and self._clock.offset is not None:
            db_now = datetime.fromtimestamp(
                asyncio.get_running_loop().time() + self._clock.offset, UTC
            )
            metrics.record_cron_fired((tick for _, tick in fired), db_now)
        for event in events:
            log.info("definition %s: %s: %s", event.def_id, event.event, event.detail)
        return dataclasses.replace(
            report,
            fired=fired,
            events=tuple(events),
            lost=sum(part.lost for part in parts),
            replan=any(part.replan for part in parts),
        )

    async def _commit_part(
        self,
        claims: list[scheduler_repo.Claim],
        plans: dict[scheduler_repo.Key, planning.Plan],
        not_early: bool,
    ) -> _Committed:
        """One transaction: move `claims`, insert the jobs and events of the ones won."""
        async with self._pool.connection() as conn:
            async with conn.transaction():
                won = await scheduler_repo.claim(conn, claims, not_early=not_early)
                mine = [plans[c.key] for c in claims if c.key in won]
                wanted = [(p.definition.def_id, tick) for p in mine for tick in p.fire]
                ids = await jobs_repo.insert_jobs(
                    conn, [jobs_repo.NewJob(def_id=d, scheduled_for=t) for d, t in wanted]
                )
                events = [e for p in mine for e in p.events]
                await scheduler_repo.insert_events(conn, events)
            lost = [c for c in claims if c.key not in won]
            replan = await self._partly_moved(conn, lost) if lost else False
        fired = tuple(w for w, job_id in zip(wanted, ids, strict=True) if job_id is not None)
        return _Committed(fired, events, len(lost), replan)

    async def _partly_moved(self, conn: AsyncConn, lost: list[scheduler_repo.Claim]) -> bool:
        """True if a position we failed to move now stands before where we wanted it.

        Usually another replica made the very same move (nothing left to do). Otherwise (a
        replica planned with an earlier `now`, or a resume moved it) our remaining ticks are
        still due and the next round must come at once rather than at the next tick.
        """
        current = await scheduler_repo.positions(conn, [c.key for c in lost])
        return any(current.get(c.key, c.last_tick) < c.last_tick for c in lost)

    # ------------------------------------------------------------------ the loop

    def stop(self) -> None:
        """Ask `run()` to return after the round in progress (signal handlers call this)."""
        self._stopping = True
        self._wake.set()

    async def run(self) -> None:
        """Run rounds until `stop()`: sleep until the next tick, a NOTIFY, or `max_sleep`."""
        helpers = [
            asyncio.create_task(self._listener.run(), name="scheduler-listen"),
            asyncio.create_task(self._reap_forever(), name="scheduler-reap"),
        ]
        failures = 0
        target: datetime | None = None  # the tick the next round is planned ahead for
        try:
            while not self._stopping:
                self._wake.clear()
                try:
                    report = await (self.tick() if target is None else self._tick_ahead(target))
                except DB_ERRORS as exc:
                    failures += 1
                    delay = min(5.0, 0.1 * 2**failures)
                    log.warning(
                        "scheduler round failed (%s); retrying in %.1fs",
                        migrate.explain(exc),
                        delay,
                    )
                    target = None
                    await self._sleep(delay)
                    continue
                failures = 0
                target = None if report.replan else await self._wait_for(report.next_tick)
        finally:
            for task in helpers:
                task.cancel()
            await asyncio.gather(*helpers, return_exceptions=True)

    async def _wait_for(self, next_tick: datetime | None) -> datetime | None:
        """Sleep until shortly before `next_tick` and return it, or sleep `max_sleep` (or until a
        NOTIFY) and return None: the next round then plans from scratch at the database's now."""
        if next_tick is not None:
            until = self._clock.seconds_until(next_tick, asyncio.get_running_loop().time())
            if until - self._lead <= self._settings.max_sleep:
                await self._sleep(until - self._lead)
                return None if self._wake.is_set() else next_tick
        await self._sleep(self._settings.max_sleep)
        return None

    async def _sleep(self, seconds: float) -> None:
        """Sleep up to `seconds`, returning early on a NOTIFY or `stop()`."""
        if seconds <= 0 or self._wake.is_set():
            return
        try:
            async with asyncio.timeout(seconds):
                await self._wake.wait()
        except TimeoutError:
            pass

    async def _reap_forever(self) -> None:
        """Re-queue jobs whose lease expired, so they recover even when no worker is idle."""
        while True:
            await asyncio.sleep(self._settings.reap_interval)
            try:
                async with self._pool.connection() as conn:
                    found = await queue_repo.reap(conn)
                metrics.record_reaped(found)
            except DB_ERRORS as exc:
                log.warning("lease reaper: %s", migrate.explain(exc))
                continue
            if found:
                log.info("re-queued or failed %d job(s) whose lease expired", len(found))
