"""What one scheduler round does for one cron definition: pure, no I/O, tested with chosen instants.

A definition's *position* is the newest tick that was fired or deliberately skipped (kept per
definition name in `cron_state`, so a new version continues from its predecessor). A round at
time `now` handles every tick in (position, now]:

* ticks newer than `now - grace` are *on time* (the scheduler merely woke a little late: a slow
  round, a short database hiccup) and always fire;
* older ticks were *missed* (no scheduler ran) and follow the definition's `catchup` policy:
  `latest` fires only the newest due tick, `none` skips the missed ones, `all` fires the newest
  `catchup_limit` missed ticks and skips older ones;
* with `overlap: skip` a tick is skipped while the job of the previous fired tick is still queued
  or running, and a round never fires more than one tick.

Every skip and every late fire becomes an `Event`, stored in `scheduler_events` for operators.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta
from typing import Literal

from chronosched import cron
from chronosched.scheduler import ticks

# A tick this much older than `now` counts as missed. Kept above the scheduler's longest sleep
# (2 s fallback re-plan) so a definition whose NOTIFY was lost is never treated as "missed".
MISFIRE_GRACE = timedelta(seconds=5)
# Counting missed ticks is only for the events' text; cap the work (an `@every 1s` schedule
# misses 86,400 ticks a day).
COUNT_CAP = 10_000
# On-time ticks per round: at most grace / 1 s (the finest schedule), with room to spare.
_RECENT_LIMIT = 1000

Catchup = Literal["latest", "none", "all"]
Overlap = Literal["allow", "skip"]


@dataclasses.dataclass(frozen=True, slots=True)
class CronDefinition:
    """A live cron definition with its schedule position, as the round loaded it."""

    def_id: str
    namespace_id: str
    name: str
    cron_spec: str
    timezone: str
    created_at: datetime
    catchup: Catchup = "latest"
    catchup_limit: int = 100
    overlap: Overlap = "allow"
    last_tick: datetime | None = None  # the position; None before the first round
    previous_job_id: int | None = None  # the job of the newest fired tick
    previous_active: bool = False  # ... and it is still queued or running


@dataclasses.dataclass(frozen=True, slots=True)
class Event:
    """A visible trace of a scheduler decision (one row of `scheduler_events`)."""

    def_id: str
    scheduled_for: datetime | None
    event: str  # missed_skipped | caught_up | overlap_skipped
    detail: str


@dataclasses.dataclass(frozen=True, slots=True)
class Plan:
    """The round's decision for one definition."""

    definition: CronDefinition
    fire: tuple[datetime, ...] = ()  # ticks to insert jobs for, oldest first
    advance_to: datetime | None = None  # the new position; None: nothing was due
    events: tuple[Event, ...] = ()
    next_tick: datetime | None = None  # the first tick after `now` (for the sleep)


@dataclasses.dataclass(frozen=True, slots=True)
class _Span:
    """A run of consecutive due ticks that will not fire."""

    count: int  # may be COUNT_CAP + 1, meaning "more than COUNT_CAP"
    first: datetime
    last: datetime

    def describe(self) -> str:
        many = f"more than {COUNT_CAP}" if self.count > COUNT_CAP else str(self.count)
        noun = "tick" if self.count == 1 else "ticks"
        if self.count == 1:
            return f"1 {noun} ({_iso(self.first)})"
        return f"{many} {noun} from {_iso(self.first)} to {_iso(self.last)}"


def _iso(instant: datetime) -> str:
    return instant.isoformat().replace("+00:00", "Z")


def start_of(definition: CronDefinition) -> datetime:
    """Ticks after this instant may fire: the position, but never before the definition existed."""
    if definition.last_tick is None:
        return definition.created_at
    return max(definition.last_tick, definition.created_at)


def plan(definition: CronDefinition, now: datetime, grace: timedelta = MISFIRE_GRACE) -> Plan:
    """Decide which ticks in (position, now] fire and which are skipped. Raises CronSpecError."""
    schedule = cron.parse_cron(definition.cron_spec, definition.timezone)
    since = start_of(definition)
    upcoming = cron.next_fire_times(schedule, max(since, now), 1)
    next_tick = upcoming[0] if upcoming else None
    if now <= since:
        return Plan(definition, next_tick=next_tick)
    boundary = now - grace
    recent = cron.fire_times(schedule, max(since, boundary), now, _RECENT_LIMIT)
    fire, skipped, late = _catch_up(definition, schedule, since, boundary, recent)
    if not fire and skipped is None:
        return Plan(definition, next_tick=next_tick)
    advance_to = recent[-1] if recent else max([*fire, *([skipped.last] if skipped else [])])
    events: list[Event] = []
    if skipped is not None:
        events.append(_missed_event(definition, skipped))
    fire, overlap_event = _apply_overlap(definition, fire)
    late_fired = [t for t in fire if t in late]
    if late_fired:
        events.append(_caught_up_event(definition, late_fired, now))
    if overlap_event is not None:
        events.append(overlap_event)
    return Plan(definition, tuple(fire), advance_to, tuple(events), next_tick)


def _catch_up(
    definition: CronDefinition,
    schedule: cron.CronSchedule,
    since: datetime,
    boundary: datetime,
    recent: list[datetime],
) -> tuple[list[datetime], _Span | None, set[datetime]]:
    """Apply the catch-up policy: (ticks to fire, missed ticks skipped, the late ticks fired)."""
    if since >= boundary:
        return list(recent), None, set()
    policy = definition.catchup
    keep = {"none": 1, "latest": 2, "all": definition.catchup_limit + 1}[policy]
    missed = ticks.newest(schedule, since, boundary, keep)
    if not missed:  # nothing was missed: only on-time ticks
        return list(recent), None, set()
    total = ticks.count(schedule, since, boundary, COUNT_CAP)
    first = cron.next_fire_after(schedule, since)
    if policy == "none":
        return list(recent), _Span(total, first, missed[-1]), set()
    if policy == "latest":
        due_tail = [*missed, *recent]
        skipped_count = total + len(recent) - 1
        span = _Span(skipped_count, first, due_tail[-2]) if skipped_count else None
        late = set() if recent else {due_tail[-1]}
        return [due_tail[-1]], span, late
    fired_late = missed[-definition.catchup_limit :]
    dropped = total - len(fired_late)
    span = _Span(dropped, first, missed[0]) if dropped > 0 else None
    return [*fired_late, *recent], span, set(fired_late)


def _apply_overlap(
    definition: CronDefinition, fire: list[datetime]
) -> tuple[list[datetime], Event | None]:
    """`overlap: skip`: no tick while the previous run is active, at most one per round."""
    if definition.overlap != "skip" or not fire:
        return fire, None
    if definition.previous_active:
        span = _Span(len(fire), fire[0], fire[-1])
        reason = f"the previous run (job {definition.previous_job_id}) is still queued or running"
        return [], _overlap_event(definition, span, reason)
    if len(fire) == 1:
        return fire, None
    span = _Span(len(fire) - 1, fire[0], fire[-2])
    return fire[-1:], _overlap_event(
        definition, span, f"only the newest of them, {_iso(fire[-1])}, runs"
    )


def _overlap_event(definition: CronDefinition, span: _Span, reason: str) -> Event:
    return Event(
        definition.def_id,
        span.last,
        "overlap_skipped",
        f"skipped {span.describe()} (overlap: skip): {reason}",
    )


def _missed_event(definition: CronDefinition, span: _Span) -> Event:
    return Event(
        definition.def_id,
        span.last,
        "missed_skipped",
        f"{span.describe()} missed while no scheduler ran, not fired "
        f"(catchup: {definition.catchup})",
    )


def _caught_up_event(definition: CronDefinition, late: list[datetime], now: datetime) -> Event:
    span = _Span(len(late), late[0], late[-1])
    seconds = (now - late[-1]).total_seconds()
    return Event(
        definition.def_id,
        late[-1],
        "caught_up",
        f"fired {span.describe()} late, the newest {seconds:.1f} s after its time "
        f"(catchup: {definition.catchup})",
    )


def earliest(plans: list[Plan]) -> datetime | None:
    """The first upcoming tick over all plans: when the scheduler should wake next."""
    upcoming = [p.next_tick for p in plans if p.next_tick is not None]
    return min(upcoming) if upcoming else None
