"""Cron arithmetic: parse a `cronSpec` and compute its fire instants. Pure, no I/O.

Accepted specs (see docs/scheduling.md):

* 5 fields `minute hour day-of-month month day-of-week` (minute precision);
* 6 fields with seconds first `second minute hour day-of-month month day-of-week`, as robfig/cron
  `WithSeconds`;
* `@yearly @annually @monthly @weekly @daily @midnight @hourly`;
* `@every <Go duration>` (at least 1s), ticking on multiples of the duration since the Unix epoch,
  so every scheduler replica computes the same instants whatever its start time or time zone.

Field grammar: `*`, numbers, names (`JAN`-`DEC`, `SUN`-`SAT`, any case), ranges `a-b`, steps
`*/n`, `a-b/n` and `a/n` (= `a-max/n`), lists `a,b,c`, `?` for `*` in the day fields, and 7 for
Sunday. Day-of-month and day-of-week combine as in Vixie cron: when either field starts with `*`
both must match, otherwise either may match (`0 0 1,15 * MON` fires on the 1st, the 15th and
every Monday).

Calendar matching is delegated to `cronsim`, run on *naive local wall-clock times*, and this
module maps wall times to instants with our own DST rules (cronsim's own DST handling follows
Debian cron and differs, see `_wall_to_instant`):

* the spec is evaluated in the schedule's IANA time zone;
* a wall time skipped by a DST gap fires once, at the first instant after the gap (`30 2 * * *` in
  Europe/Berlin on a spring-forward day fires at 03:00 CEST); several skipped wall times collapse
  into that one fire;
* a wall time that occurs twice in a DST overlap fires once, at its first occurrence, even for
  specs such as `*/5 * * * *` (use UTC or `@every` for a steady rhythm across DST changes);
* `@every` ignores time zones entirely.
"""

from __future__ import annotations

import functools
import itertools
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from cronsim import CronSim, CronSimError

from chronosched import durations

__all__ = [
    "CronSchedule",
    "CronSpecError",
    "fire_times",
    "next_fire_after",
    "next_fire_times",
    "parse_cron",
]

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_SECOND = timedelta(seconds=1)
_MICROSECOND = timedelta(microseconds=1)

_DESCRIPTORS = {
    "@yearly": "0 0 0 1 1 *",
    "@annually": "0 0 0 1 1 *",
    "@monthly": "0 0 0 1 * *",
    "@weekly": "0 0 0 * * 0",
    "@daily": "0 0 0 * * *",
    "@midnight": "0 0 0 * * *",
    "@hourly": "0 0 * * * *",
}
_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_DAYS = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")


@dataclass(frozen=True)
class _Field:
    name: str
    low: int
    high: int
    names: tuple[str, ...] = ()  # names[i] stands for low + i
    question_mark: bool = False  # `?` accepted as `*` (robfig/Quartz habit, day fields only)


# Six fields, seconds first; a 5-field spec gets second `0`.
_FIELDS = (
    _Field("second", 0, 59),
    _Field("minute", 0, 59),
    _Field("hour", 0, 23),
    _Field("day-of-month", 1, 31, question_mark=True),
    _Field("month", 1, 12, _MONTHS),
    _Field("day-of-week", 0, 7, _DAYS, question_mark=True),
)
_ATOM = re.compile(r"[0-9]+|[A-Z]+")  # ASCII only: cronsim reads no other digits
# Zone keys that exist in tzdata but depend on the host, so replicas could disagree.
_HOST_DEPENDENT_ZONES = frozenset({"localtime", "posixrules"})


class CronSpecError(ValueError):
    """A cron spec or time zone that cannot be accepted; the message says why, for the client."""


@dataclass(frozen=True)
class CronSchedule:
    """A validated schedule: the spec as written, its time zone, and the parsed form.

    Exactly one of `expression` (a normalised 6-field, seconds-first cron expression evaluated in
    `timezone`) and `every` (an epoch-aligned interval) is set. Build it with `parse_cron`.
    """

    spec: str
    timezone: str
    expression: str | None
    every: timedelta | None
    zone: ZoneInfo = field(repr=False, compare=False)


# --- parsing ----------------------------------------------------------------------------------


def _atom(text: str, fld: _Field, item: str) -> int:
    """One number or name of a field, range-checked."""
    if text.isascii() and text.isdigit():
        value = int(text)
    elif text in fld.names:
        value = fld.low + fld.names.index(text)
    else:
        hint = f" or a name {fld.names[0]}-{fld.names[-1]}" if fld.names else ""
        raise CronSpecError(
            f"{fld.name} field: {item!r} is not valid ({text!r} is not a number{hint})"
        )
    if not fld.low <= value <= fld.high:
        raise CronSpecError(
            f"{fld.name} field: {value} in {item!r} is out of range {fld.low}-{fld.high}"
        )
    return value


def _check_item(item: str, fld: _Field) -> str:
    """Validate one list item (`*`, `a`, `a-b`, each optionally `/step`); return its cronsim form.

    We check the grammar ourselves, for precise messages and to refuse cronsim's extensions
    (`L`, `W`, `#`) that robfig/cron and Vixie cron do not have.
    """
    base, slash, step = item.partition("/")
    if slash and not (step.isascii() and step.isdigit() and int(step) > 0):
        raise CronSpecError(f"{fld.name} field: step in {item!r} must be a positive number")
    if base == "?" and fld.question_mark:
        base = "*"
    if base != "*":
        if not base:
            raise CronSpecError(f"{fld.name} field: {item!r} is missing a value")
        bounds = base.split("-")
        if len(bounds) > 2 or not all(_ATOM.fullmatch(b) for b in bounds):
            raise CronSpecError(f"{fld.name} field: {item!r} is not valid")
        values = [_atom(b, fld, item) for b in bounds]
        if values[0] > values[-1]:
            raise CronSpecError(
                f"{fld.name} field: range {item!r} runs backwards (split it into two ranges)"
            )
        if slash and len(values) == 2 and values[0] == values[1]:
            return bounds[0]  # `5-5/2` is just 5; cronsim would read it as `5/2`
        if slash and len(values) == 1 and fld.names is _DAYS and values[0] < 7:
            base += "-6"  # `MON/2` means MON-SAT/2 (robfig); cronsim would count 7 as well
    return base + slash + step


def _normalise(fields: list[str]) -> str:
    """Validate six fields and return the expression handed to cronsim."""
    out = []
    for text, fld in zip(fields, _FIELDS, strict=True):
        items = text.upper().split(",")
        out.append(",".join(_check_item(item, fld) for item in items))
    return " ".join(out)


def _zone(name: str) -> ZoneInfo:
    """Load an IANA zone or refuse it readably (with a suggestion for a mis-capitalised name)."""
    if not isinstance(name, str) or not name.strip():
        raise CronSpecError("the time zone is empty (expected an IANA name such as 'UTC')")
    if name in _HOST_DEPENDENT_ZONES:
        raise CronSpecError(f"time zone {name!r} depends on the host; use an IANA name")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        pass
    hint = _zone_names_by_lowercase().get(name.strip().lower())
    suggestion = f"; did you mean {hint!r}?" if hint else " (expected e.g. 'Europe/Berlin')"
    raise CronSpecError(f"unknown time zone {name!r}{suggestion}")


@functools.cache
def _zone_names_by_lowercase() -> dict[str, str]:
    """Only built on the error path: listing tzdata takes ~0.1 s."""
    return {zone.lower(): zone for zone in available_timezones()}


def _parse_every(spec: str, argument: str) -> timedelta:
    if not argument:
        raise CronSpecError(f"{spec!r}: @every needs a duration such as '5s' or '1m30s'")
    try:
        every = durations.parse_go_duration(argument)
    except durations.DurationError as exc:
        raise CronSpecError(f"{spec!r}: {exc}") from None
    if every < _SECOND:
        raise CronSpecError(f"{spec!r}: @every needs at least 1s")
    return every


def _parse_expression(spec: str, parts: list[str]) -> str:
    if len(parts) not in (5, 6):
        raise CronSpecError(
            f"{spec!r} has {len(parts)} fields; expected 5 (minute hour day-of-month month "
            "day-of-week), 6 (with seconds first), or a descriptor such as @daily"
        )
    expression = _normalise(["0", *parts] if len(parts) == 5 else parts)
    try:
        CronSim(expression, datetime(2000, 1, 1))
    except CronSimError as exc:
        if str(exc) == "Bad day-of-month":  # after our grammar check: `0 0 30 2 *`
            raise CronSpecError(
                f"{spec!r} never fires: none of the chosen months has that day of the month"
            ) from None
        raise CronSpecError(f"{spec!r} is not a valid cron spec ({exc})") from None
    return expression


@functools.lru_cache(maxsize=4096)
def parse_cron(spec: str, timezone: str = "UTC") -> CronSchedule:
    """Validate `spec` in IANA zone `timezone`; raise `CronSpecError` saying what is wrong.

    Called at definition creation so a bad spec is a 422 then, never a failure at fire time.
    Results are cached: the scheduler may pass the same text every tick.
    """
    if not isinstance(spec, str):
        raise CronSpecError(f"a cron spec must be text, not {type(spec).__name__}")
    zone = _zone(timezone)
    text = spec.strip()
    if not text:
        raise CronSpecError("the cron spec is empty (expected e.g. '*/5 * * * *' or '@hourly')")
    parts = text.split()
    head = parts[0].lower()
    if head.startswith(("tz=", "cron_tz=")):
        raise CronSpecError(f"{spec!r}: set the definition's timezone instead of a TZ= prefix")
    if head == "@every":
        every = _parse_every(text, " ".join(parts[1:]))
        return CronSchedule(text, timezone, None, every, zone)
    if head.startswith("@"):
        if head not in _DESCRIPTORS or len(parts) > 1:
            known = " ".join(_DESCRIPTORS)
            raise CronSpecError(f"unknown descriptor {text!r}; known: {known} and @every <d>")
        return CronSchedule(text, timezone, _DESCRIPTORS[head], None, zone)
    return CronSchedule(text, timezone, _parse_expression(text, parts), None, zone)


# --- time-zone mapping ------------------------------------------------------------------------


def _offset(ts: int, zone: ZoneInfo) -> timedelta | None:
    return (EPOCH + timedelta(seconds=ts)).astimezone(zone).utcoffset()


def _transition(lo: datetime, hi: datetime, zone: ZoneInfo) -> datetime:
    """The first instant in (lo, hi] with hi's UTC offset, given lo has another one.

    Binary search over whole seconds (tzdata transitions are whole seconds): ~12 probes for a
    one-hour change, used only around DST changes.
    """
    lo_s, hi_s = (lo - EPOCH) // _SECOND, (hi - EPOCH) // _SECOND
    target = _offset(hi_s, zone)
    while hi_s - lo_s > 1:
        mid = (lo_s + hi_s) // 2
        if _offset(mid, zone) == target:
            hi_s = mid
        else:
            lo_s = mid
    return EPOCH + timedelta(seconds=hi_s)


def _wall_to_instant(wall: datetime, zone: ZoneInfo) -> datetime:
    """The UTC instant at which the naive local `wall` time fires.

    Unambiguous: the obvious instant. Repeated (overlap): the first occurrence (fold=0). Skipped
    (gap): the first instant after the gap. Unlike cronsim's own handling (Debian cron: specs
    with `*` in minute or hour fire in both passes of an overlap), this gives every wall time
    exactly one instant, and the mapping never decreases, so iteration stays ordered.
    """
    off_first = wall.replace(tzinfo=zone, fold=0).utcoffset()
    off_second = wall.replace(tzinfo=zone, fold=1).utcoffset()
    assert off_first is not None and off_second is not None  # a ZoneInfo always has an offset
    if off_first >= off_second:  # unambiguous, or an overlap: the earlier instant
        return (wall - off_first).replace(tzinfo=UTC)
    # In a gap fold=0 uses the offset before the change, fold=1 the one after (PEP 495).
    return _transition(
        (wall - off_second).replace(tzinfo=UTC), (wall - off_first).replace(tzinfo=UTC), zone
    )


def _search_start(after: datetime, zone: ZoneInfo) -> datetime:
    """A naive wall time such that exactly the wall times after it can fire after `after`.

    Normally the local wall time of `after`. If `after` lies in the second pass of an overlap,
    every wall time of the overlap already fired (at its first occurrence), so the search starts
    at the end of the overlap instead.
    """
    local = after.astimezone(zone)
    wall = local.replace(tzinfo=None)
    if local.fold:
        off_first = wall.replace(tzinfo=zone, fold=0).utcoffset()
        off_here = local.utcoffset()
        if off_first is not None and off_here is not None and off_first != off_here:
            change = _transition(after - (off_first - off_here), after, zone)
            return (change + off_first).replace(tzinfo=None) - _SECOND
    return wall


# --- iteration --------------------------------------------------------------------------------


def _every_instants(every: timedelta, after: datetime) -> Iterator[datetime]:
    step = every // _MICROSECOND
    tick = ((after - EPOCH) // _MICROSECOND) // step + 1
    try:
        while True:
            yield EPOCH + timedelta(microseconds=tick * step)
            tick += 1
    except OverflowError:  # past year 9999
        return


def _cron_instants(expression: str, zone: ZoneInfo, after: datetime) -> Iterator[datetime]:
    walls = CronSim(expression, _search_start(after, zone))
    last = after
    while True:
        try:
            wall = next(walls)
        except (StopIteration, OverflowError):  # no match for 50 years, or past year 9999
            return
        instant = _wall_to_instant(wall, zone)
        if instant > last:  # several skipped wall times map to one instant: fire once
            last = instant
            yield instant


def _aware(value: datetime, name: str) -> datetime:
    if not isinstance(value, datetime):
        raise TypeError(f"{name} must be a datetime, not {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware (got naive {value.isoformat()})")
    return value.astimezone(UTC)


def _schedule(schedule: CronSchedule | str, timezone: str | None) -> CronSchedule:
    if isinstance(schedule, CronSchedule):
        if timezone is not None and timezone != schedule.timezone:
            raise ValueError(
                f"timezone {timezone!r} contradicts the schedule's own {schedule.timezone!r}"
            )
        return schedule
    return parse_cron(schedule, "UTC" if timezone is None else timezone)


def _instants(schedule: CronSchedule, after: datetime) -> Iterator[datetime]:
    """Fire instants strictly after `after` (aware UTC), strictly increasing, in UTC."""
    if schedule.every is not None:
        return _every_instants(schedule.every, after)
    assert schedule.expression is not None
    return _cron_instants(schedule.expression, schedule.zone, after)


def next_fire_after(
    schedule: CronSchedule | str, after: datetime, timezone: str | None = None
) -> datetime:
    """The first fire instant strictly after `after`, as an aware UTC datetime.

    `after` must be timezone-aware. A `str` schedule is parsed in `timezone` (default UTC); a
    `CronSchedule` carries its own zone (a different `timezone` is an error). DST rules are in
    the module docstring. Raises `CronSpecError` if the schedule never fires again (only
    possible near year 9999).
    """
    parsed = _schedule(schedule, timezone)
    start = _aware(after, "after")
    for instant in _instants(parsed, start):
        return instant
    raise CronSpecError(f"{parsed.spec!r} has no fire time after {start.isoformat()}")


def fire_times(
    schedule: CronSchedule | str,
    after: datetime,
    until: datetime,
    limit: int,
    *,
    timezone: str | None = None,
) -> list[datetime]:
    """All fire instants in (after, until], oldest first, at most `limit` (for catch-up)."""
    parsed = _schedule(schedule, timezone)
    start, end = _aware(after, "after"), _aware(until, "until")
    if limit <= 0 or end <= start:
        return []
    in_window = itertools.takewhile(lambda instant: instant <= end, _instants(parsed, start))
    return list(itertools.islice(in_window, limit))


def next_fire_times(
    schedule: CronSchedule | str, after: datetime, count: int, *, timezone: str | None = None
) -> list[datetime]:
    """The next `count` fire instants strictly after `after` (the UI shows the next 5)."""
    parsed = _schedule(schedule, timezone)
    start = _aware(after, "after")
    return list(itertools.islice(_instants(parsed, start), max(count, 0)))
