"""Table and property tests for chronosched.cron (pure: chosen instants, no clock)."""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from cronsim import CronSim
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from chronosched.cron import (
    CronSchedule,
    CronSpecError,
    fire_times,
    next_fire_after,
    next_fire_times,
    parse_cron,
)

BERLIN = "Europe/Berlin"
NEW_YORK = "America/New_York"


def utc(y: int, mo: int, d: int, h: int = 0, mi: int = 0, s: int = 0, us: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, s, us, tzinfo=UTC)


def local(
    tz: str, y: int, mo: int, d: int, h: int = 0, mi: int = 0, s: int = 0, *, fold: int = 0
) -> datetime:
    """A wall time in `tz` as an aware UTC instant (fold=1 picks the second of a repeated time)."""
    return datetime(y, mo, d, h, mi, s, tzinfo=ZoneInfo(tz), fold=fold).astimezone(UTC)


# --- parsing ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "expression"),
    [
        ("@yearly", "0 0 0 1 1 *"),
        ("@annually", "0 0 0 1 1 *"),
        ("@monthly", "0 0 0 1 * *"),
        ("@weekly", "0 0 0 * * 0"),
        ("@daily", "0 0 0 * * *"),
        ("@midnight", "0 0 0 * * *"),
        ("@hourly", "0 0 * * * *"),
        ("@DAILY", "0 0 0 * * *"),
        ("*/5 * * * *", "0 */5 * * * *"),
        ("*/5 * * * * *", "*/5 * * * * *"),
        ("0 9 * * mon-fri", "0 0 9 * * MON-FRI"),
        ("0 0 ? * SUN", "0 0 0 * * SUN"),
        ("  0   0 1  jan *  ", "0 0 0 1 JAN *"),
        ("0 0 * * MON/2", "0 0 0 * * MON-6/2"),
    ],
    ids=lambda v: v,
)
def test_parse_cron__normalises_to_six_fields(spec: str, expression: str) -> None:
    schedule = parse_cron(spec)
    assert schedule == CronSchedule(spec.strip(), "UTC", expression, None, ZoneInfo("UTC"))


@pytest.mark.parametrize(
    ("spec", "every"),
    [
        ("@every 5s", timedelta(seconds=5)),
        ("@every 1m30s", timedelta(seconds=90)),
        ("@every 2h", timedelta(hours=2)),
        ("@every 1.5s", timedelta(seconds=1.5)),
        ("@EVERY 1s", timedelta(seconds=1)),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_parse_cron__every(spec: str, every: timedelta) -> None:
    schedule = parse_cron(spec, BERLIN)
    assert (schedule.every, schedule.expression, schedule.timezone) == (every, None, BERLIN)


@pytest.mark.parametrize(
    ("spec", "reason"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("* * * *", "has 4 fields; expected 5"),
        ("* * * * * * *", "has 7 fields"),
        ("60 * * * *", "minute field: 60 in '60' is out of range 0-59"),
        ("* 24 * * *", "hour field: 24 in '24' is out of range 0-23"),
        ("* * 0 * *", "day-of-month field: 0 in '0' is out of range 1-31"),
        ("* * 32 * *", "day-of-month field: 32"),
        ("* * * 0 *", "month field: 0 in '0' is out of range 1-12"),
        ("* * * 13 *", "month field: 13"),
        ("* * * * 8", "day-of-week field: 8 in '8' is out of range 0-7"),
        ("60 * * * * *", "second field: 60 in '60' is out of range 0-59"),
        ("5-1 * * * *", "range '5-1' runs backwards"),
        ("* * * * FRI-MON", "range 'FRI-MON' runs backwards"),
        ("*/0 * * * *", "step in '\\*/0' must be a positive number"),
        ("*/x * * * *", "step in '\\*/X' must be a positive number"),
        ("1/2/3 * * * *", "must be a positive number"),
        ("1,,2 * * * *", "missing a value"),
        ("1- * * * *", "'1-' is not valid"),
        ("1-2-3 * * * *", "'1-2-3' is not valid"),
        ("* * * FOO *", "'FOO' is not a number or a name JAN-DEC"),
        ("* * * * MONDAY", "'MONDAY' is not a number or a name SUN-SAT"),
        ("MON * * * *", "minute field: 'MON' is not valid"),
        ("٣ * * * *", "minute field: '٣' is not valid"),  # a non-ASCII digit
        ("*/٣ * * * *", "must be a positive number"),
        ("? * * * *", "minute field: '\\?' is not valid"),
        ("0 0 L * *", "day-of-month field: 'L' is not valid"),
        ("0 0 LW * *", "day-of-month field: 'LW' is not valid"),
        ("0 0 * * 5L", "day-of-week field: '5L' is not valid"),
        ("0 0 * * 5#2", "day-of-week field: '5#2' is not valid"),
        ("0 0 30 2 *", "never fires"),
        ("0 0 31 4,6,9,11 *", "never fires"),
        ("@reboot", "unknown descriptor '@reboot'"),
        ("@daily 5", "unknown descriptor"),
        ("@every", "@every needs a duration"),
        ("@every 500ms", "at least 1s"),
        ("@every 0s", "at least 1s"),
        ("@every -5s", "negative"),
        ("@every 5 minutes", "invalid Go duration"),
        ("@every 1d", "invalid Go duration"),
        ("TZ=Europe/Berlin 0 6 * * *", "set the definition's timezone"),
        ("CRON_TZ=UTC 0 6 * * *", "set the definition's timezone"),
    ],
    ids=lambda v: repr(v),
)
def test_parse_cron__refuses_invalid_spec_with_reason(spec: str, reason: str) -> None:
    with pytest.raises(CronSpecError, match=reason):
        parse_cron(spec)


@pytest.mark.parametrize(
    ("timezone", "reason"),
    [
        ("Mars/Olympus_Mons", "unknown time zone 'Mars/Olympus_Mons'"),
        ("europe/berlin", "did you mean 'Europe/Berlin'"),
        ("Europe/Berlin ", "did you mean 'Europe/Berlin'"),
        ("", "time zone is empty"),
        ("/etc/passwd", "unknown time zone"),
        ("../../etc/passwd", "unknown time zone"),
        ("localtime", "depends on the host"),
        ("CEST", "unknown time zone"),
    ],
    ids=lambda v: repr(v),
)
def test_parse_cron__refuses_invalid_timezone(timezone: str, reason: str) -> None:
    with pytest.raises(CronSpecError, match=reason):
        parse_cron("0 0 * * *", timezone)


@pytest.mark.parametrize(
    "timezone", ["UTC", "Etc/UTC", BERLIN, NEW_YORK, "Asia/Kolkata", "US/Eastern", "Etc/GMT+5"]
)
def test_parse_cron__accepts_iana_timezones(timezone: str) -> None:
    assert parse_cron("0 0 * * *", timezone).zone == ZoneInfo(timezone)


# --- next fire, UTC ---------------------------------------------------------------------------

# 2024-01-01 is a Monday; 2024 is a leap year.
NEXT_UTC = [
    # descriptors
    ("@yearly", utc(2024, 5, 5, 5), utc(2025, 1, 1)),
    ("@annually", utc(2024, 12, 31, 23, 59, 59), utc(2025, 1, 1)),
    ("@monthly", utc(2024, 1, 31, 12), utc(2024, 2, 1)),
    ("@weekly", utc(2024, 1, 1), utc(2024, 1, 7)),
    ("@daily", utc(2024, 2, 28, 0, 0, 1), utc(2024, 2, 29)),
    ("@midnight", utc(2024, 12, 31, 1), utc(2025, 1, 1)),
    ("@hourly", utc(2024, 1, 1, 10, 59, 59, 999999), utc(2024, 1, 1, 11)),
    # strictly after: an instant that is itself a tick is skipped
    ("@hourly", utc(2024, 1, 1, 10), utc(2024, 1, 1, 11)),
    ("* * * * *", utc(2024, 1, 1, 10, 0, 0, 1), utc(2024, 1, 1, 10, 1)),
    # values, ranges, steps, lists
    ("15 10 * * *", utc(2024, 1, 1, 10, 15), utc(2024, 1, 2, 10, 15)),
    ("*/15 * * * *", utc(2024, 1, 1, 10, 16), utc(2024, 1, 1, 10, 30)),
    ("10-20/5 * * * *", utc(2024, 1, 1, 10, 20), utc(2024, 1, 1, 11, 10)),
    ("50/5 * * * *", utc(2024, 1, 1, 10, 56), utc(2024, 1, 1, 11, 50)),
    ("0 9-17/4 * * *", utc(2024, 1, 1, 9, 30), utc(2024, 1, 1, 13)),
    ("0,30 * * * *", utc(2024, 1, 1, 10, 1), utc(2024, 1, 1, 10, 30)),
    ("5,10-12,*/50 * * * *", utc(2024, 1, 1, 10, 12), utc(2024, 1, 1, 10, 50)),
    ("0 0 1 */3 *", utc(2024, 2, 1), utc(2024, 4, 1)),
    # names, any case
    ("0 0 1 JAN,jul *", utc(2024, 2, 1), utc(2024, 7, 1)),
    ("0 9 * * MON-FRI", utc(2024, 1, 5, 10), utc(2024, 1, 8, 9)),
    ("0 9 * * sat,SUN", utc(2024, 1, 1), utc(2024, 1, 6, 9)),
    ("0 0 * * 7", utc(2024, 1, 1), utc(2024, 1, 7)),
    ("0 0 * * 0", utc(2024, 1, 1), utc(2024, 1, 7)),
    ("0 0 * * MON/2", utc(2024, 1, 5), utc(2024, 1, 8)),  # MON,WED,FRI: Sunday not included
    ("0 0 * * MON/2", utc(2024, 1, 6), utc(2024, 1, 8)),
    ("5-5/2 * * * *", utc(2024, 1, 1, 10, 5), utc(2024, 1, 1, 11, 5)),  # not 5/2
    ("0 0 ? * TUE", utc(2024, 1, 1), utc(2024, 1, 2)),
    # day-of-month / day-of-week: OR when both restricted, AND when either starts with *
    ("0 0 13 * FRI", utc(2024, 1, 1), utc(2024, 1, 5)),  # the first Friday comes first
    ("0 0 13 * FRI", utc(2024, 1, 12), utc(2024, 1, 13)),  # then the 13th (a Saturday)
    ("0 0 1,15 * MON", utc(2024, 1, 2), utc(2024, 1, 8)),
    ("0 0 * * FRI", utc(2024, 1, 1), utc(2024, 1, 5)),
    ("0 0 13 * *", utc(2024, 1, 1), utc(2024, 1, 13)),
    ("0 0 */10 * FRI", utc(2024, 1, 1), utc(2024, 3, 1)),  # */ counts as star: AND
    ("0 0 13 * ?", utc(2024, 1, 1), utc(2024, 1, 13)),
    # months of different lengths and leap years
    ("0 0 31 * *", utc(2024, 1, 31, 1), utc(2024, 3, 31)),
    ("0 0 30 * *", utc(2024, 1, 31), utc(2024, 3, 30)),
    ("0 0 29 2 *", utc(2024, 1, 1), utc(2024, 2, 29)),
    ("0 0 29 2 *", utc(2024, 2, 29), utc(2028, 2, 29)),
    ("0 0 29 2 *", utc(2096, 3, 1), utc(2104, 2, 29)),  # 2100 is not a leap year
    ("0 0 29 2 MON", utc(2024, 2, 27), utc(2024, 2, 29)),  # OR: any Monday in Feb, or the 29th
    ("0 0 28-31 * *", utc(2024, 2, 28, 1), utc(2024, 2, 29)),
    # six fields, seconds first
    ("*/5 * * * * *", utc(2024, 1, 1, 10, 0, 0, 500), utc(2024, 1, 1, 10, 0, 5)),
    ("*/5 * * * * *", utc(2024, 1, 1, 10, 0, 58), utc(2024, 1, 1, 10, 1)),
    ("30 * * * * *", utc(2024, 1, 1, 10, 0, 30), utc(2024, 1, 1, 10, 1, 30)),
    ("0,15,45 * * * * *", utc(2024, 1, 1, 10, 0, 16), utc(2024, 1, 1, 10, 0, 45)),
    ("10-12 0 12 * * *", utc(2024, 1, 1, 12, 0, 10), utc(2024, 1, 1, 12, 0, 11)),
    ("10-12 0 12 * * *", utc(2024, 1, 1, 12, 0, 12), utc(2024, 1, 2, 12, 0, 10)),
    ("0 0 0 29 2 *", utc(2024, 3, 1), utc(2028, 2, 29)),
    ("59 59 23 31 12 *", utc(2024, 1, 1), utc(2024, 12, 31, 23, 59, 59)),
]


@pytest.mark.parametrize(
    ("spec", "after", "expected"),
    NEXT_UTC,
    ids=[f"{spec} after {after:%Y-%m-%dT%H:%M:%S}" for spec, after, _ in NEXT_UTC],
)
def test_next_fire_after__utc_table(spec: str, after: datetime, expected: datetime) -> None:
    fire = next_fire_after(spec, after)
    assert fire == expected
    assert fire.tzinfo is UTC


def test_next_fire_after__accepts_any_aware_input_and_returns_utc() -> None:
    after = datetime(2024, 1, 1, 11, 0, tzinfo=ZoneInfo(BERLIN))  # 10:00Z
    assert next_fire_after("@hourly", after) == utc(2024, 1, 1, 11)


def test_next_fire_after__refuses_naive_datetime() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        next_fire_after("@hourly", datetime(2024, 1, 1))
    with pytest.raises(ValueError, match="timezone-aware"):
        fire_times("@hourly", utc(2024, 1, 1), datetime(2024, 1, 2), 10)


def test_next_fire_after__schedule_timezone_wins_and_conflicts_are_errors() -> None:
    schedule = parse_cron("0 9 * * *", BERLIN)
    assert next_fire_after(schedule, utc(2024, 1, 1)) == utc(2024, 1, 1, 8)
    assert next_fire_after(schedule, utc(2024, 1, 1), BERLIN) == utc(2024, 1, 1, 8)
    assert next_fire_after("0 9 * * *", utc(2024, 1, 1), BERLIN) == utc(2024, 1, 1, 8)
    with pytest.raises(ValueError, match="contradicts"):
        next_fire_after(schedule, utc(2024, 1, 1), NEW_YORK)


def test_next_fire_after__string_spec_is_validated() -> None:
    with pytest.raises(CronSpecError, match="unknown time zone"):
        next_fire_after("@hourly", utc(2024, 1, 1), "Nowhere/Land")


def test_next_fire_after__reports_the_end_of_time() -> None:
    with pytest.raises(CronSpecError, match="no fire time"):
        next_fire_after("@yearly", utc(9999, 6, 1))


# --- @every -----------------------------------------------------------------------------------

EVERY = [
    ("@every 5s", utc(2024, 1, 1, 10, 0, 3), utc(2024, 1, 1, 10, 0, 5)),
    ("@every 5s", utc(2024, 1, 1, 10, 0, 5), utc(2024, 1, 1, 10, 0, 10)),
    ("@every 1m30s", utc(2024, 1, 1, 10, 0, 1), utc(2024, 1, 1, 10, 1, 30)),
    ("@every 1m30s", utc(1970, 1, 1), utc(1970, 1, 1, 0, 1, 30)),
    ("@every 7m", utc(2024, 1, 1), utc(2024, 1, 1, 0, 1)),  # 28401120 min = 7 * 4057302 + 6
    ("@every 1.5s", utc(2024, 1, 1, 0, 0, 0, 1), utc(2024, 1, 1, 0, 0, 1, 500000)),
    ("@every 24h", utc(2024, 1, 1, 12), utc(2024, 1, 2)),
]


@pytest.mark.parametrize(
    ("spec", "after", "expected"),
    EVERY,
    ids=[f"{spec} after {after:%Y-%m-%dT%H:%M:%S.%f}" for spec, after, _ in EVERY],
)
def test_every__aligned_to_unix_epoch(spec: str, after: datetime, expected: datetime) -> None:
    assert next_fire_after(spec, after) == expected
    every = parse_cron(spec).every
    assert every is not None
    assert (expected - datetime(1970, 1, 1, tzinfo=UTC)) % every == timedelta(0)


@pytest.mark.parametrize("timezone", [BERLIN, NEW_YORK, "Asia/Kolkata", "Australia/Lord_Howe"])
def test_every__ignores_timezone_and_dst(timezone: str) -> None:
    after = local(NEW_YORK, 2024, 11, 3, 1, 59)  # just before the autumn overlap
    expected = fire_times("@every 10m", after, after + timedelta(hours=3), 100)
    assert fire_times("@every 10m", after, after + timedelta(hours=3), 100, timezone=timezone) == (
        expected
    )
    assert len(expected) == 18
    assert all(b - a == timedelta(minutes=10) for a, b in itertools.pairwise(expected))


# --- DST --------------------------------------------------------------------------------------
# Europe/Berlin 2024: 31 Mar 02:00 CET -> 03:00 CEST; 27 Oct 03:00 CEST -> 02:00 CET.
# America/New_York 2024: 10 Mar 02:00 EST -> 03:00 EDT; 3 Nov 02:00 EDT -> 01:00 EST.

DST_CASES = [
    # gap: a skipped wall time fires once, at the first instant after the gap
    (
        "gap/berlin/02:30 fires at 03:00",
        "30 2 * * *",
        BERLIN,
        local(BERLIN, 2024, 3, 30, 12),
        [
            local(BERLIN, 2024, 3, 31, 3, 0),
            local(BERLIN, 2024, 4, 1, 2, 30),
        ],
    ),
    (
        "gap/berlin/several skipped times collapse into one fire",
        "0,15,30,45 2,3 * * *",
        BERLIN,
        local(BERLIN, 2024, 3, 31, 1),
        [
            local(BERLIN, 2024, 3, 31, 3, 0),
            local(BERLIN, 2024, 3, 31, 3, 15),
            local(BERLIN, 2024, 3, 31, 3, 30),
            local(BERLIN, 2024, 3, 31, 3, 45),
        ],
    ),
    (
        "gap/berlin/every 30 minutes",
        "*/30 * * * *",
        BERLIN,
        local(BERLIN, 2024, 3, 31, 1),
        [
            local(BERLIN, 2024, 3, 31, 1, 30),
            local(BERLIN, 2024, 3, 31, 3, 0),
            local(BERLIN, 2024, 3, 31, 3, 30),
            local(BERLIN, 2024, 3, 31, 4, 0),
        ],
    ),
    (
        "gap/berlin/six fields",
        "15 30 2 * * *",
        BERLIN,
        local(BERLIN, 2024, 3, 30, 12),
        [
            local(BERLIN, 2024, 3, 31, 3, 0),
            local(BERLIN, 2024, 4, 1, 2, 30, 15),
        ],
    ),
    (
        "gap/new york/02:30 fires at 03:00",
        "30 2 * * *",
        NEW_YORK,
        local(NEW_YORK, 2024, 3, 9, 12),
        [
            local(NEW_YORK, 2024, 3, 10, 3, 0),
            local(NEW_YORK, 2024, 3, 11, 2, 30),
        ],
    ),
    (
        "gap/new york/hourly keeps going",
        "0 * * * *",
        NEW_YORK,
        local(NEW_YORK, 2024, 3, 10, 0, 30),
        [
            local(NEW_YORK, 2024, 3, 10, 1, 0),
            local(NEW_YORK, 2024, 3, 10, 3, 0),  # 02:00 and 03:00 both land on 07:00Z: one fire
            local(NEW_YORK, 2024, 3, 10, 4, 0),
        ],
    ),
    (
        "gap/samoa/a skipped whole day fires once at the next midnight",
        "0 12 * * *",
        "Pacific/Apia",
        local("Pacific/Apia", 2011, 12, 29, 13),
        [
            datetime(2011, 12, 30, 10, tzinfo=UTC),  # 31 Dec 00:00 local (30 Dec never existed)
            local("Pacific/Apia", 2011, 12, 31, 12),
        ],
    ),
    # overlap: a repeated wall time fires once, at its first occurrence
    (
        "overlap/berlin/02:30 fires once in CEST",
        "30 2 * * *",
        BERLIN,
        local(BERLIN, 2024, 10, 26, 12),
        [
            utc(2024, 10, 27, 0, 30),
            utc(2024, 10, 28, 1, 30),
        ],
    ),
    (
        "overlap/berlin/every 30 minutes skips the second pass",
        "*/30 * * * *",
        BERLIN,
        local(BERLIN, 2024, 10, 27, 1, 45),
        [
            utc(2024, 10, 27, 0, 0),  # 02:00 CEST
            utc(2024, 10, 27, 0, 30),  # 02:30 CEST
            utc(2024, 10, 27, 2, 0),  # 03:00 CET
            utc(2024, 10, 27, 2, 30),
        ],
    ),
    (
        "overlap/new york/01:30 fires once in EDT",
        "30 1 * * *",
        NEW_YORK,
        local(NEW_YORK, 2024, 11, 2, 12),
        [
            utc(2024, 11, 3, 5, 30),  # 01:30 EDT
            utc(2024, 11, 4, 6, 30),  # 01:30 EST the next day
        ],
    ),
    (
        "overlap/new york/hourly fires once at 01:00",
        "0 * * * *",
        NEW_YORK,
        local(NEW_YORK, 2024, 11, 3, 0, 30),
        [
            utc(2024, 11, 3, 5, 0),  # 01:00 EDT
            utc(2024, 11, 3, 7, 0),  # 02:00 EST; 01:00 EST is not a second fire
            utc(2024, 11, 3, 8, 0),
        ],
    ),
    (
        "overlap/new york/six fields",
        "0 0,30 1 * * *",
        NEW_YORK,
        local(NEW_YORK, 2024, 11, 3, 0, 30),
        [
            utc(2024, 11, 3, 5, 0),
            utc(2024, 11, 3, 5, 30),
            utc(2024, 11, 4, 6, 0),
            utc(2024, 11, 4, 6, 30),
        ],
    ),
    (
        "overlap/new york/after inside the second pass",
        "*/20 * * * *",
        NEW_YORK,
        local(NEW_YORK, 2024, 11, 3, 1, 10, fold=1),  # 06:10Z
        [
            utc(2024, 11, 3, 7, 0),  # 02:00 EST: every 01:xx already fired in EDT
            utc(2024, 11, 3, 7, 20),
            utc(2024, 11, 3, 7, 40),
            utc(2024, 11, 3, 8, 0),
        ],
    ),
    (
        "overlap/new york/after inside the first pass",
        "*/20 * * * *",
        NEW_YORK,
        local(NEW_YORK, 2024, 11, 3, 1, 10),  # 05:10Z
        [
            utc(2024, 11, 3, 5, 20),
            utc(2024, 11, 3, 5, 40),
            utc(2024, 11, 3, 7, 0),
            utc(2024, 11, 3, 7, 20),
        ],
    ),
    (
        "overlap/lord howe/half-hour change",
        "*/30 * * * *",
        "Australia/Lord_Howe",
        utc(2024, 4, 6, 13, 50),  # 00:50 +11:00; at 15:00Z clocks go from 02:00 back to 01:30
        [
            utc(2024, 4, 6, 14, 0),  # 01:00 +11
            utc(2024, 4, 6, 14, 30),  # 01:30 +11
            utc(2024, 4, 6, 15, 30),  # 02:00 +10:30
            utc(2024, 4, 6, 16, 0),
        ],
    ),
]


@pytest.mark.parametrize(
    ("spec", "timezone", "after", "expected"),
    [case[1:] for case in DST_CASES],
    ids=[case[0] for case in DST_CASES],
)
def test_cron__dst_gap_and_overlap_fire_once(
    spec: str, timezone: str, after: datetime, expected: list[datetime]
) -> None:
    assert next_fire_times(spec, after, len(expected), timezone=timezone) == expected
    assert next_fire_after(spec, after, timezone) == expected[0]
    chained = [next_fire_after(spec, after, timezone)]
    while len(chained) < len(expected):
        chained.append(next_fire_after(spec, chained[-1], timezone))
    assert chained == expected


def test_cron__dst_days_have_one_fire_per_distinct_wall_time() -> None:
    """Daily count of `*/15 * * * *` fires: 96 normally, 92 on a gap day, 96 on an overlap day."""

    def count(tz: str, day: date) -> int:
        start = local(tz, day.year, day.month, day.day) - timedelta(microseconds=1)
        nxt = day + timedelta(days=1)
        end = local(tz, nxt.year, nxt.month, nxt.day) - timedelta(microseconds=1)
        return len(fire_times("*/15 * * * *", start, end, 500, timezone=tz))

    assert count(BERLIN, date(2024, 3, 30)) == 96
    assert count(BERLIN, date(2024, 3, 31)) == 92  # 02:00-02:45 collapse into the 03:00 fire
    assert count(BERLIN, date(2024, 10, 27)) == 96  # 02:00-02:45 once, not twice
    assert count(NEW_YORK, date(2024, 11, 3)) == 96


# --- fire_times / next_fire_times --------------------------------------------------------------


def test_fire_times__window_is_after_exclusive_until_inclusive() -> None:
    got = fire_times("0 * * * *", utc(2024, 1, 1, 0), utc(2024, 1, 1, 3), 100)
    assert got == [utc(2024, 1, 1, 1), utc(2024, 1, 1, 2), utc(2024, 1, 1, 3)]


@pytest.mark.parametrize(
    ("after", "until", "limit", "expected"),
    [
        (utc(2024, 1, 1), utc(2024, 1, 1, 10), 3, 3),
        (utc(2024, 1, 1), utc(2024, 1, 1, 10), 0, 0),
        (utc(2024, 1, 1), utc(2024, 1, 1, 10), -1, 0),
        (utc(2024, 1, 1, 10), utc(2024, 1, 1), 5, 0),
        (utc(2024, 1, 1, 10), utc(2024, 1, 1, 10), 5, 0),
        (utc(2024, 1, 1, 10), utc(2024, 1, 1, 10, 59, 59), 5, 0),
        (utc(2024, 1, 1), utc(2024, 1, 2), 1000, 24),
    ],
    ids=["limit caps", "limit 0", "negative limit", "until before after", "empty", "none", "day"],
)
def test_fire_times__bounds(after: datetime, until: datetime, limit: int, expected: int) -> None:
    got = fire_times("@hourly", after, until, limit)
    assert len(got) == expected
    assert got == next_fire_times("@hourly", after, expected)


def test_fire_times__catch_up_of_a_seconds_spec_is_fast_and_capped() -> None:
    got = fire_times("* * * * * *", utc(2024, 1, 1), utc(2024, 2, 1), 1000)
    assert len(got) == 1000
    assert got[-1] == utc(2024, 1, 1, 0, 16, 40)


def test_next_fire_times__shows_the_next_five() -> None:
    assert next_fire_times("0 9 * * MON-FRI", utc(2024, 1, 5, 10), 5, timezone=BERLIN) == [
        utc(2024, 1, 8, 8),
        utc(2024, 1, 9, 8),
        utc(2024, 1, 10, 8),
        utc(2024, 1, 11, 8),
        utc(2024, 1, 12, 8),
    ]


# --- properties -------------------------------------------------------------------------------

MINUTE = timedelta(minutes=1)
FIELD_BOUNDS = [(0, 59), (0, 23), (1, 31), (1, 12), (0, 6)]


@st.composite
def cron_items(draw: st.DrawFn, low: int, high: int) -> str:
    a, b = sorted(draw(st.lists(st.integers(low, high), min_size=2, max_size=2)))
    step = draw(st.integers(1, max(1, (high - low) // 2)))
    return draw(st.sampled_from([f"{a}", f"{a}-{b}", f"{a}-{b}/{step}", f"*/{step}"]))


@st.composite
def cron_fields(draw: st.DrawFn, low: int, high: int) -> str:
    if draw(st.integers(0, 3)) == 0:
        return "*"
    return ",".join(draw(st.lists(cron_items(low, high), min_size=1, max_size=3)))


@st.composite
def five_field_specs(draw: st.DrawFn) -> str:
    minute, hour, dom, month, dow = (draw(cron_fields(lo, hi)) for lo, hi in FIELD_BOUNDS)
    if draw(st.booleans()):
        month = "*"  # keep most specs firing within the brute-force window
    if draw(st.booleans()):
        dom = "*"
    return f"{minute} {hour} {dom} {month} {dow}"


def _reference_set(text: str, low: int, high: int) -> set[int]:
    """Values of one cron field, expanded independently of chronosched and cronsim."""
    values: set[int] = set()
    for item in text.split(","):
        base, _, step = item.partition("/")
        if base == "*":
            first, last = low, high
        elif "-" in base:
            first, last = (int(v) for v in base.split("-"))
        else:
            first = int(base)
            last = high if step else first
        values.update(range(first, last + 1, int(step or 1)))
    return values


def _reference_matcher(spec: str) -> Callable[[datetime], bool]:
    fields = spec.split()
    minutes, hours, doms, months, dows = (
        _reference_set(text, lo, hi) for text, (lo, hi) in zip(fields, FIELD_BOUNDS, strict=True)
    )
    star = fields[2].startswith("*") or fields[4].startswith("*")

    def matches(wall: datetime) -> bool:
        dom_ok = wall.day in doms
        dow_ok = (wall.weekday() + 1) % 7 in dows
        day_ok = (dom_ok and dow_ok) if star else (dom_ok or dow_ok)
        return wall.minute in minutes and wall.hour in hours and wall.month in months and day_ok

    return matches


def _brute_force(spec: str, tz: str, after: datetime, until: datetime) -> list[datetime]:
    """Fire instants by walking UTC minute by minute: an instant fires if its wall time matches
    and is not the second occurrence of a repeated time, or if it ends a DST gap that swallowed
    a matching wall time."""
    matches = _reference_matcher(spec)
    zone = ZoneInfo(tz)
    out = []
    instant = after.replace(second=0, microsecond=0) + MINUTE
    previous = (instant - MINUTE).astimezone(zone).replace(tzinfo=None)
    while instant <= until:
        local_time = instant.astimezone(zone)
        wall = local_time.replace(tzinfo=None)
        fires = matches(wall) and not local_time.fold
        skipped = previous + MINUTE
        while not fires and skipped < wall:  # the wall clock jumped forward over `skipped`
            fires = matches(skipped)
            skipped += MINUTE
        if fires:
            out.append(instant)
        previous = wall
        instant += MINUTE
    return out


instants_2000_2040 = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2040, 1, 1), timezones=st.just(UTC)
)


@settings(max_examples=150, deadline=None, database=None)
@given(five_field_specs(), instants_2000_2040)
def test_next_fire_after__matches_cronsim_in_utc(spec: str, after: datetime) -> None:
    assume(not re.search(r"(?<!\d)(\d+)-\1/", spec))  # cronsim reads `5-5/2` as `5/2`
    expected = next(CronSim(spec, after))
    assert next_fire_after(spec, after) == expected


@settings(max_examples=100, deadline=None, database=None)
@given(five_field_specs(), instants_2000_2040)
def test_fire_times__matches_brute_force_in_utc(spec: str, after: datetime) -> None:
    until = after + timedelta(days=1)
    assert fire_times(spec, after, until, 10_000) == _brute_force(spec, "UTC", after, until)


# Local dates of DST changes in 2024: (zone, spring change, autumn change).
DST_DAYS = [
    (BERLIN, datetime(2024, 3, 31, tzinfo=UTC), datetime(2024, 10, 27, tzinfo=UTC)),
    (NEW_YORK, datetime(2024, 3, 10, tzinfo=UTC), datetime(2024, 11, 3, tzinfo=UTC)),
    ("Australia/Lord_Howe", datetime(2024, 10, 6, tzinfo=UTC), datetime(2024, 4, 7, tzinfo=UTC)),
]


@settings(max_examples=120, deadline=None, database=None)
@given(
    five_field_specs(),
    st.sampled_from(DST_DAYS),
    st.booleans(),
    st.timedeltas(min_value=timedelta(hours=-30), max_value=timedelta(hours=6)),
)
def test_fire_times__matches_brute_force_across_dst_changes(
    spec: str, zone_days: tuple[str, datetime, datetime], spring: bool, offset: timedelta
) -> None:
    tz, spring_day, autumn_day = zone_days
    after = (spring_day if spring else autumn_day) + offset
    until = after + timedelta(days=1)
    assert fire_times(spec, after, until, 10_000, timezone=tz) == _brute_force(
        spec, tz, after, until
    )


@st.composite
def any_specs(draw: st.DrawFn) -> str:
    kind = draw(st.sampled_from(["five", "six", "every", "descriptor"]))
    if kind == "every":
        return f"@every {draw(st.integers(1, 7200))}s"
    if kind == "descriptor":
        return draw(st.sampled_from(["@yearly", "@monthly", "@weekly", "@daily", "@hourly"]))
    spec = draw(five_field_specs())
    return f"{draw(cron_fields(0, 59))} {spec}" if kind == "six" else spec


@settings(max_examples=150, deadline=None, database=None)
@given(
    any_specs(),
    st.sampled_from(["UTC", BERLIN, NEW_YORK, "Australia/Lord_Howe", "Asia/Kolkata"]),
    st.datetimes(
        min_value=datetime(2020, 1, 1),
        max_value=datetime(2030, 1, 1),
        timezones=st.just(UTC),
    ),
)
def test_fire_times__strictly_increasing_and_after_start(
    spec: str, tz: str, after: datetime
) -> None:
    until = after + timedelta(days=3)
    got = fire_times(spec, after, until, 50, timezone=tz)
    assert len(got) <= 50
    assert all(after < fire <= until and fire.tzinfo is UTC for fire in got)
    assert all(a < b for a, b in itertools.pairwise(got))
    chained: list[datetime] = []
    cursor = after
    for _ in range(min(len(got), 5)):
        cursor = next_fire_after(spec, cursor, tz)
        chained.append(cursor)
    assert chained == got[:5]
