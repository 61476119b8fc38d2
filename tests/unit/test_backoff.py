"""Backoff arithmetic: exponential ceiling, cap, equal jitter."""

from __future__ import annotations

import pytest

from chronosched.worker.backoff import reconnect_delay, retry_delay


@pytest.mark.parametrize(
    ("attempt", "base", "cap", "rand", "expected"),
    [
        (1, 1.0, 300.0, 0.0, 0.5),  # ceiling 1: lowest draw is half of it
        (1, 1.0, 300.0, 1.0, 1.0),
        (2, 1.0, 300.0, 1.0, 2.0),
        (4, 1.0, 300.0, 1.0, 8.0),
        (4, 1.0, 300.0, 0.5, 6.0),
        (10, 1.0, 300.0, 1.0, 300.0),  # 512 capped at 300
        (10, 1.0, 300.0, 0.0, 150.0),
        (3, 2.5, 1000.0, 1.0, 10.0),
        (0, 1.0, 300.0, 1.0, 1.0),  # attempt numbers below 1 count as the first
    ],
)
def test_retry_delay__table(
    attempt: int, base: float, cap: float, rand: float, expected: float
) -> None:
    assert retry_delay(attempt, base, cap, lambda: rand) == pytest.approx(expected)


def test_retry_delay__zero_base_or_cap_means_immediately() -> None:
    assert retry_delay(5, 0.0, 300.0) == 0.0
    assert retry_delay(5, 1.0, 0.0) == 0.0


def test_retry_delay__huge_attempt_does_not_overflow() -> None:
    assert retry_delay(10_000, 1.0, 60.0, lambda: 1.0) == 60.0


def test_retry_delay__always_within_half_ceiling_and_ceiling() -> None:
    for attempt in range(1, 12):
        ceiling = min(100.0, 0.5 * 2 ** (attempt - 1))
        for _ in range(50):
            assert ceiling / 2 <= retry_delay(attempt, 0.5, 100.0) <= ceiling


def test_reconnect_delay__grows_to_five_seconds() -> None:
    assert reconnect_delay(1, lambda: 1.0) == pytest.approx(0.1)
    assert reconnect_delay(3, lambda: 1.0) == pytest.approx(0.4)
    assert reconnect_delay(50, lambda: 1.0) == pytest.approx(5.0)
