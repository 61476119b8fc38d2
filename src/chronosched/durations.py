"""Durations: Go-style (`1m30s`), PostgreSQL interval text (`5 minutes`) and ISO 8601 (`PT5M`).

Pure functions, no I/O. Everything is computed with exact fractions, so `1.5h` or `0.1 weeks` is
exact, and a value finer than one microsecond (the resolution of both `timedelta` and PostgreSQL's
`interval`) is refused rather than silently rounded. Months and years are refused everywhere:
they have no fixed length, and a delay must mean the same number of seconds every time.
"""

from __future__ import annotations

import math
import re
from datetime import timedelta
from fractions import Fraction

__all__ = [
    "MAX_INTERVAL",
    "DurationError",
    "format_interval",
    "parse_go_duration",
    "parse_interval",
]

MAX_INTERVAL = timedelta(days=366)
"""Upper bound of `delayInterval`: long enough for any real delay, short enough to catch typos."""

_MAX_GO_NS = 2**63 - 1  # Go's time.Duration is an int64 of nanoseconds (about 292 years)
_MAX_TEXT = 200  # characters; longer input is garbage, not a duration

_US_PER = {
    "us": 1,
    "ms": 1_000,
    "s": 1_000_000,
    "m": 60_000_000,
    "h": 3_600_000_000,
    "d": 86_400_000_000,
    "w": 604_800_000_000,
}


class DurationError(ValueError):
    """A duration or interval that cannot be accepted; the message says why, for the client."""


# --- Go ---------------------------------------------------------------------------------------

_GO_NS_PER_UNIT = {
    "ns": 1,
    "us": 1_000,
    "µs": 1_000,  # U+00B5 MICRO SIGN, as Go accepts
    "μs": 1_000,  # U+03BC GREEK SMALL LETTER MU, as Go accepts
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60_000_000_000,
    "h": 3_600_000_000_000,
}
_GO_NUMBER = r"(?:\d+(?:\.\d*)?|\.\d+)"
_GO_UNIT = r"(?:ns|us|µs|μs|ms|s|m|h)"
_GO_TERM = re.compile(rf"({_GO_NUMBER})({_GO_UNIT})", re.ASCII)
_GO_FULL = re.compile(rf"\+?(?:{_GO_NUMBER}{_GO_UNIT})+|\+?0", re.ASCII)


def parse_go_duration(text: str) -> timedelta:
    """Parse a Go `time.ParseDuration` string (`5s`, `1m30s`, `1.5h`, `300ms`) into a timedelta.

    Same grammar as Go (units ns, us/µs, ms, s, m, h; a bare `0`), but negative values and
    precision finer than a microsecond are refused because nothing here can honour them.
    """
    if not isinstance(text, str):
        raise DurationError(f"a Go duration must be text, not {type(text).__name__}")
    s = text.strip()
    if not s:
        raise DurationError("the duration is empty (expected something like '5s' or '1m30s')")
    if s.startswith("-"):
        raise DurationError(f"negative durations are not allowed: {text!r}")
    if len(s) > _MAX_TEXT or not _GO_FULL.fullmatch(s):
        raise DurationError(
            f"invalid Go duration {text!r}: expected numbers with units ns, us, ms, s, m or h, "
            "such as '5s', '1m30s' or '1.5h'"
        )
    ns = sum(
        (Fraction(number) * _GO_NS_PER_UNIT[unit] for number, unit in _GO_TERM.findall(s)),
        Fraction(0),
    )
    if ns > _MAX_GO_NS:
        raise DurationError(f"duration {text!r} is out of range (at most about 292 years)")
    return _from_microseconds(ns / 1000, text)


# --- PostgreSQL interval text -----------------------------------------------------------------

_PG_UNITS: dict[str, str] = {
    **dict.fromkeys(("us", "usec", "usecs", "usecond", "useconds"), "us"),
    **dict.fromkeys(("microsecond", "microseconds"), "us"),
    **dict.fromkeys(("ms", "msec", "msecs", "msecond", "mseconds"), "ms"),
    **dict.fromkeys(("millisecond", "milliseconds"), "ms"),
    **dict.fromkeys(("s", "sec", "secs", "second", "seconds"), "s"),
    **dict.fromkeys(("m", "min", "mins", "minute", "minutes"), "m"),
    **dict.fromkeys(("h", "hr", "hrs", "hour", "hours"), "h"),
    **dict.fromkeys(("d", "day", "days"), "d"),
    **dict.fromkeys(("w", "week", "weeks"), "w"),
}
# Units PostgreSQL knows that have no fixed length in seconds.
_PG_CALENDAR_UNITS = frozenset(
    (
        *("mon", "mons", "month", "months", "qtr", "quarter", "quarters"),
        *("y", "yr", "yrs", "year", "years", "dec", "decs", "decade", "decades"),
        *("c", "cent", "century", "centuries", "mil", "mils", "millennium", "millennia"),
    )
)
_NUMBER = r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)"
_PG_NUMBER = re.compile(_NUMBER, re.ASCII)
_PG_NUMBER_UNIT = re.compile(rf"({_NUMBER})([a-z]+)", re.ASCII)
_PG_TIME = re.compile(r"([+-]?)(\d+):(\d{1,2})(?::(\d{1,2}(?:\.\d*)?))?", re.ASCII)


def _pg_time(match: re.Match[str], text: str) -> Fraction:
    """Microseconds of an `[-]hh:mm[:ss[.frac]]` field (hours may exceed 24, as in PostgreSQL)."""
    sign, hours, minutes, seconds = match.groups()
    if int(minutes) >= 60 or (seconds is not None and Fraction(seconds) >= 60):
        raise DurationError(f"invalid time {match.group(0)!r} in interval {text!r}")
    us = (int(hours) * 60 + int(minutes)) * 60_000_000 + Fraction(seconds or 0) * 1_000_000
    return -us if sign == "-" else us


def _pg_unit(word: str, text: str) -> int:
    """Microseconds per unit word, or a readable refusal."""
    if word in _PG_UNITS:
        return _US_PER[_PG_UNITS[word]]
    if word in _PG_CALENDAR_UNITS:
        raise DurationError(
            f"interval {text!r} uses {word!r}: months and years have no fixed length; "
            "use days or weeks instead"
        )
    raise DurationError(f"unknown unit {word!r} in interval {text!r}")


def _parse_postgres(text: str) -> Fraction:
    """Microseconds of PostgreSQL interval text, e.g. `1 day 02:00:00`, `5 mins`, `@ 3 hours ago`.

    Supports what `interval_in` accepts for month-free intervals: `<number> <unit>` pairs (space
    optional), one `hh:mm[:ss]` field, a bare number of days before that field, a lone bare number
    meaning seconds, a leading `@` and a trailing `ago`.
    """
    tokens = text.lower().split()
    if tokens and tokens[0].startswith("@"):
        tokens[0] = tokens[0][1:]
        if not tokens[0]:
            tokens.pop(0)
    negate = bool(tokens) and tokens[-1] == "ago"
    if negate:
        tokens.pop()
    if not tokens:
        raise DurationError(f"interval {text!r} has no quantity")
    if len(tokens) == 1 and _PG_NUMBER.fullmatch(tokens[0]):
        return -Fraction(tokens[0]) * 1_000_000 if negate else Fraction(tokens[0]) * 1_000_000
    total = Fraction(0)
    seen_time = False
    i = 0
    while i < len(tokens):
        token = tokens[i]
        nxt = tokens[i + 1] if i + 1 < len(tokens) else None
        if (time_match := _PG_TIME.fullmatch(token)) is not None:
            if seen_time:
                raise DurationError(f"interval {text!r} has more than one hh:mm:ss field")
            seen_time = True
            total += _pg_time(time_match, text)
        elif (pair := _PG_NUMBER_UNIT.fullmatch(token)) is not None:
            total += Fraction(pair.group(1)) * _pg_unit(pair.group(2), text)
        elif _PG_NUMBER.fullmatch(token) and nxt is not None and _PG_TIME.fullmatch(nxt):
            total += Fraction(token) * _US_PER["d"]  # SQL-standard "1 02:00:00": days, then time
        elif _PG_NUMBER.fullmatch(token) and nxt is not None and nxt.isalpha():
            total += Fraction(token) * _pg_unit(nxt, text)
            i += 1
        else:
            raise DurationError(
                f"cannot read {token!r} in interval {text!r} (expected e.g. '5 minutes', "
                "'1 day 02:00:00', 'PT5M' or '5m')"
            )
        i += 1
    return -total if negate else total


# --- ISO 8601 ---------------------------------------------------------------------------------

_ISO_NUM = r"(\d+(?:[.,]\d+)?)"
_ISO = re.compile(
    rf"P(?:{_ISO_NUM}Y)?(?:{_ISO_NUM}M)?(?:{_ISO_NUM}W)?(?:{_ISO_NUM}D)?"
    rf"(?:T(?=\d)(?:{_ISO_NUM}H)?(?:{_ISO_NUM}M)?(?:{_ISO_NUM}S)?)?",
    re.IGNORECASE | re.ASCII,
)


def _parse_iso8601(text: str) -> Fraction:
    """Microseconds of an ISO 8601 duration such as `PT5M`, `P1DT2H`, `PT0.5S` or `P2W`."""
    match = _ISO.fullmatch(text)
    if match is None or not any(match.groups()) or text.upper().endswith("T"):
        raise DurationError(
            f"invalid ISO 8601 duration {text!r} (expected e.g. 'PT5M', 'P1DT2H' or 'PT0.5S')"
        )
    years, months, weeks, days, hours, minutes, seconds = (
        Fraction(g.replace(",", ".")) if g else Fraction(0) for g in match.groups()
    )
    if years or months:
        raise DurationError(
            f"ISO 8601 duration {text!r} has a year or month part: months and years have no "
            "fixed length; use days (D) or weeks (W) instead"
        )
    return (
        weeks * _US_PER["w"]
        + days * _US_PER["d"]
        + hours * _US_PER["h"]
        + minutes * _US_PER["m"]
        + seconds * _US_PER["s"]
    )


# --- public API -------------------------------------------------------------------------------


def _from_microseconds(us: Fraction, original: object) -> timedelta:
    if us.denominator != 1:
        raise DurationError(f"{original!r} is more precise than one microsecond")
    try:
        return timedelta(microseconds=int(us))
    except OverflowError:
        raise DurationError(f"{original!r} is out of range") from None


def _check_interval(td: timedelta, original: object) -> timedelta:
    if td < timedelta(0):
        raise DurationError(f"interval {original!r} is negative; a delay must be zero or more")
    if td > MAX_INTERVAL:
        raise DurationError(f"interval {original!r} is longer than the maximum of 366 days")
    return td


def parse_interval(value: str | int | float) -> timedelta:
    """Parse a `delayInterval`: PostgreSQL interval text, ISO 8601, Go-style, or seconds.

    Accepted, e.g.: `"5 minutes"`, `"1 hour 30 minutes"`, `"00:05:00"`, `"1 day 02:00:00"`,
    `"5 mins"`, `"1 week"`, `"PT5M"`, `"P1DT2H"`, `"PT0.5S"`, `"P2W"`, `"5m"`, `"1m30s"`, and a
    JSON number of seconds (`300`, `0.5`). The result must lie in [0, 366 days]; months and
    years are refused because they have no fixed length.
    """
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise DurationError(
            f"an interval must be text or a number of seconds, not {type(value).__name__}"
        )
    if isinstance(value, int | float):
        if isinstance(value, float) and not math.isfinite(value):
            raise DurationError(f"interval {value!r} is not a finite number of seconds")
        if value < 0:
            raise DurationError(f"interval {value!r} is negative; a delay must be zero or more")
        if value > MAX_INTERVAL.total_seconds():
            raise DurationError(f"interval {value!r} is longer than the maximum of 366 days")
        # A float is not exact anyway: round to the microsecond like timedelta does.
        return timedelta(seconds=value)
    text = value.strip()
    if not text:
        raise DurationError("the interval is empty (expected e.g. '5 minutes', 'PT5M' or '5m')")
    if len(text) > _MAX_TEXT:
        raise DurationError(f"interval text is too long ({len(text)} characters)")
    if _GO_FULL.fullmatch(text):
        return _check_interval(parse_go_duration(text), value)
    us = _parse_iso8601(text) if text[0] in "Pp" else _parse_postgres(text)
    return _check_interval(_from_microseconds(us, value), value)


def format_interval(td: timedelta) -> str:
    """Canonical text of an interval: PostgreSQL's own `interval` output for month-free values.

    `IntervalStyle = postgres` prints `[N day[s]] [HH:MM:SS[.ffffff]]`: `00:05:00`,
    `1 day 02:00:00`, `3 days`, `00:00:00.5`. We use that form so the API shows exactly what
    `SELECT delay_interval` would, PostgreSQL reads it back unchanged, and `parse_interval`
    round-trips it. Days here are always 24 hours (a `timedelta` has no calendar days).
    """
    if td < timedelta(0):
        raise DurationError(f"cannot format a negative interval ({td})")
    minutes, seconds = divmod(td.seconds, 60)
    hours, minutes = divmod(minutes, 60)
    parts = []
    if td.days:
        parts.append(f"{td.days} day" if td.days == 1 else f"{td.days} days")
    if td.seconds or td.microseconds or not td.days:
        clock = f"{hours:02d}:{minutes:02d}:{seconds:02d}"
        if td.microseconds:
            clock += f".{td.microseconds:06d}".rstrip("0")
        parts.append(clock)
    return " ".join(parts)
