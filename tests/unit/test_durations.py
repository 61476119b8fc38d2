"""Table tests for chronosched.durations: Go durations, delayInterval input and canonical output."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chronosched.durations import (
    MAX_INTERVAL,
    DurationError,
    format_interval,
    parse_go_duration,
    parse_interval,
)

S = timedelta(seconds=1)
MIN = timedelta(minutes=1)
H = timedelta(hours=1)
D = timedelta(days=1)
MS = timedelta(milliseconds=1)
US = timedelta(microseconds=1)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("5s", 5 * S),
        ("1m30s", 90 * S),
        ("2h", 2 * H),
        ("1.5h", 90 * MIN),
        ("300ms", 300 * MS),
        ("1h2m3s", H + 2 * MIN + 3 * S),
        ("0", timedelta(0)),
        ("0s", timedelta(0)),
        ("1us", US),
        ("1µs", US),  # micro sign
        ("1μs", US),  # Greek mu
        ("1000ns", US),
        (".5s", 500 * MS),
        ("5.s", 5 * S),
        ("1s1h", H + S),  # Go accepts units in any order
        ("+5s", 5 * S),
        (" 5s ", 5 * S),
        ("2562047h", 2562047 * H),  # just under Go's int64 nanosecond limit
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_parse_go_duration__accepts(text: str, expected: timedelta) -> None:
    assert parse_go_duration(text) == expected


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("-5s", "negative"),
        ("5", "invalid Go duration"),
        ("5d", "invalid Go duration"),
        ("5x", "invalid Go duration"),
        ("5 s", "invalid Go duration"),
        ("1h-5m", "invalid Go duration"),
        ("s", "invalid Go duration"),
        (".s", "invalid Go duration"),
        ("5S", "invalid Go duration"),
        ("٣s", "invalid Go duration"),  # a non-ASCII digit
        ("1ns", "more precise than one microsecond"),
        ("1.0000001s", "more precise than one microsecond"),
        ("2562048h", "out of range"),
    ],
    ids=lambda v: repr(v) if isinstance(v, str) else None,
)
def test_parse_go_duration__refuses(text: str, reason: str) -> None:
    with pytest.raises(DurationError, match=reason):
        parse_go_duration(text)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        # PostgreSQL interval text
        ("5 minutes", 5 * MIN),
        ("1 minute", MIN),
        ("1 hour 30 minutes", 90 * MIN),
        ("2 days", 2 * D),
        ("1 day", D),
        ("00:05:00", 5 * MIN),
        ("00:05", 5 * MIN),
        ("36:00:00", 36 * H),
        ("00:00:00.5", 500 * MS),
        ("1 day 02:00:00", D + 2 * H),
        ("1 02:00:00", D + 2 * H),
        ("5 mins", 5 * MIN),
        ("5 min", 5 * MIN),
        ("5 m", 5 * MIN),
        ("3 secs", 3 * S),
        ("3 sec", 3 * S),
        ("3 seconds", 3 * S),
        ("2 hrs", 2 * H),
        ("2 hr", 2 * H),
        ("2 hours", 2 * H),
        ("2 h", 2 * H),
        ("1 week", 7 * D),
        ("2 weeks", 14 * D),
        ("1 w", 7 * D),
        ("3 d", 3 * D),
        ("250 ms", 250 * MS),
        ("250 msec", 250 * MS),
        ("250 milliseconds", 250 * MS),
        ("7 usec", 7 * US),
        ("7 microseconds", 7 * US),
        ("1.5 days", D + 12 * H),
        ("0.5 weeks", 3 * D + 12 * H),
        ("5minutes", 5 * MIN),
        ("5 MINUTES", 5 * MIN),
        ("@ 5 minutes", 5 * MIN),
        ("@5 minutes", 5 * MIN),
        ("1 hour -15 minutes", 45 * MIN),
        ("-1 day 25:00:00", H),
        ("-5 minutes ago", 5 * MIN),
        ("300", 5 * MIN),
        ("0.25", 250 * MS),
        # ISO 8601
        ("PT5M", 5 * MIN),
        ("P1DT2H", D + 2 * H),
        ("PT0.5S", 500 * MS),
        ("PT0,5S", 500 * MS),
        ("P2W", 14 * D),
        ("P1D", D),
        ("PT1H30M", 90 * MIN),
        ("P0Y0M1D", D),  # zero years/months have a fixed length
        ("pt5m", 5 * MIN),
        # Go
        ("5m", 5 * MIN),
        ("1m30s", 90 * S),
        ("1.5h", 90 * MIN),
        ("0", timedelta(0)),
        # numbers of seconds
        (300, 5 * MIN),
        (0, timedelta(0)),
        (1.5, 1500 * MS),
        (0.000001, US),
        # bounds
        ("366 days", MAX_INTERVAL),
        ("  5 minutes  ", 5 * MIN),
    ],
    ids=lambda v: repr(v) if isinstance(v, str | int | float) else None,
)
def test_parse_interval__accepts(value: str | int | float, expected: timedelta) -> None:
    assert parse_interval(value) == expected


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("", "empty"),
        ("1 month", "months and years have no fixed length"),
        ("2 mons", "months and years have no fixed length"),
        ("1 year", "months and years have no fixed length"),
        ("1 yr", "months and years have no fixed length"),
        ("1 decade", "months and years have no fixed length"),
        ("1 century", "months and years have no fixed length"),
        ("1 quarter", "months and years have no fixed length"),
        ("P1Y", "year or month part"),
        ("P1M", "year or month part"),
        ("P1Y2M3D", "year or month part"),
        ("-5 minutes", "negative"),
        ("5 minutes ago", "negative"),
        ("-00:05:00", "negative"),
        ("-5s", "negative"),
        ("PT-5M", "invalid ISO 8601"),
        (-1, "negative"),
        (-0.5, "negative"),
        ("367 days", "366 days"),
        ("P53W", "366 days"),
        ("8785h", "366 days"),
        (366 * 86400 + 1, "366 days"),
        ("5 parsecs", "unknown unit 'parsecs'"),
        ("5x", "unknown unit 'x'"),
        ("minutes", "cannot read 'minutes'"),
        ("five minutes", "cannot read"),
        ("٣ minutes", "cannot read"),  # a non-ASCII digit
        ("5 5", "cannot read"),
        ("1-2", "cannot read"),  # PostgreSQL year-month literal
        ("00:60:00", "invalid time"),
        ("00:00:60", "invalid time"),
        ("01:00 02:00", "more than one"),
        ("P", "invalid ISO 8601"),
        ("PT", "invalid ISO 8601"),
        ("P1DT", "invalid ISO 8601"),
        ("PT5X", "invalid ISO 8601"),
        ("1.0000001 seconds", "more precise than one microsecond"),
        ("PT0.0000001S", "more precise than one microsecond"),
        ("ago", "no quantity"),
        ("x" * 500, "too long"),
        (float("nan"), "finite"),
        (float("inf"), "finite"),
        (True, "not bool"),
        (None, "not NoneType"),
    ],
    ids=lambda v: repr(v)[:30] if not isinstance(v, str) or len(v) < 40 else "too-long",
)
def test_parse_interval__refuses(value: object, reason: str) -> None:
    with pytest.raises(DurationError, match=reason):
        parse_interval(value)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("td", "text"),
    [
        (timedelta(0), "00:00:00"),
        (5 * MIN, "00:05:00"),
        (90 * MIN, "01:30:00"),
        (D + 2 * H, "1 day 02:00:00"),
        (D, "1 day"),
        (3 * D, "3 days"),
        (3 * D + S, "3 days 00:00:01"),
        (500 * MS, "00:00:00.5"),
        (US, "00:00:00.000001"),
        (23 * H + 59 * MIN + 59 * S + 999999 * US, "23:59:59.999999"),
        (MAX_INTERVAL, "366 days"),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_format_interval__postgres_output_style(td: timedelta, text: str) -> None:
    assert format_interval(td) == text
    assert parse_interval(text) == td


@pytest.mark.parametrize(
    ("value", "canonical"),
    [
        ("5 minutes", "00:05:00"),
        ("PT5M", "00:05:00"),
        ("5m", "00:05:00"),
        (300, "00:05:00"),
        ("1 hour 30 minutes", "01:30:00"),
        ("P1DT2H", "1 day 02:00:00"),
        ("26 hours", "1 day 02:00:00"),
        ("1 week", "7 days"),
        ("PT0.5S", "00:00:00.5"),
    ],
    ids=lambda v: repr(v),
)
def test_parse_interval__every_format_has_one_canonical_form(
    value: str | int, canonical: str
) -> None:
    assert format_interval(parse_interval(value)) == canonical


def test_format_interval__refuses_negative() -> None:
    with pytest.raises(DurationError, match="negative"):
        format_interval(-S)


@settings(max_examples=300, deadline=None, database=None)
@given(st.timedeltas(min_value=timedelta(0), max_value=MAX_INTERVAL))
def test_format_interval__round_trips_through_parse_interval(td: timedelta) -> None:
    assert parse_interval(format_interval(td)) == td


@settings(max_examples=200, deadline=None, database=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 10_000), st.sampled_from(["h", "m", "s", "ms", "us"])),
        min_size=1,
        max_size=5,
    )
)
def test_parse_go_duration__sums_its_terms(terms: list[tuple[int, str]]) -> None:
    unit = {"h": H, "m": MIN, "s": S, "ms": MS, "us": US}
    text = "".join(f"{n}{u}" for n, u in terms)
    assert parse_go_duration(text) == sum((n * unit[u] for n, u in terms), timedelta(0))
