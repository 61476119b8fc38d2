"""Retry arithmetic: exponential backoff with a cap and jitter.

Pure functions, so the arithmetic is tested with tables of cases (tests/unit/test_backoff.py).
"""

from __future__ import annotations

import random
from collections.abc import Callable

_MAX_EXPONENT = 62  # 2**62 seconds is already "forever": avoids float overflow for huge attempts


def retry_delay(
    attempt: int,
    base_seconds: float,
    max_seconds: float,
    rand: Callable[[], float] = random.random,
) -> float:
    """Seconds to wait before retrying after failed attempt number `attempt` (1-based).

    The ceiling doubles per attempt (`base * 2**(attempt-1)`) up to `max_seconds`; the delay is
    drawn from [ceiling/2, ceiling] ("equal jitter"): jobs that failed together spread out, and no
    retry comes sooner than half the ceiling.
    """
    if base_seconds <= 0 or max_seconds <= 0:
        return 0.0
    exponent = min(max(attempt, 1) - 1, _MAX_EXPONENT)
    ceiling = min(max_seconds, base_seconds * 2.0**exponent)
    return ceiling / 2 + rand() * ceiling / 2


def reconnect_delay(failures: int, rand: Callable[[], float] = random.random) -> float:
    """Seconds to wait after `failures` consecutive database errors: 0.1 s doubling to 5 s."""
    return retry_delay(failures, 0.1, 5.0, rand)
