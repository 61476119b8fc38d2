"""Tick ranges over `chronosched.cron`: the newest ticks of a range, and bounded counts.

`cron` iterates forwards only. After a long downtime an `@every 1s` schedule has hundreds of
thousands of missed ticks, of which catch-up needs only the newest few: these helpers look back
over growing windows instead of walking the whole range, and count with a cap.
"""

from __future__ import annotations

import collections
from datetime import datetime, timedelta

from chronosched import cron

# The first look-back window holds every tick of any schedule that fires at least once a minute;
# each miss widens it 8x (a minute, 8 minutes, ~1 hour, ~9 hours, ~3 days, ...).
_FIRST_WINDOW = timedelta(minutes=1)
_GROWTH = 8
_CHUNK = 1024  # ticks asked of `cron.fire_times` per call


def newest(schedule: cron.CronSchedule, after: datetime, until: datetime, n: int) -> list[datetime]:
    """The newest `n` ticks in (after, until], oldest first (fewer if the range has fewer)."""
    if n <= 0 or until <= after:
        return []
    span = until - after
    window = min(span, _FIRST_WINDOW)
    while True:
        found = _tail(schedule, until - window, until, n)
        if len(found) >= n or window >= span:
            return found
        window = min(span, window * _GROWTH)


def _tail(schedule: cron.CronSchedule, after: datetime, until: datetime, n: int) -> list[datetime]:
    """The last `n` ticks in (after, until], walking forwards in chunks with bounded memory."""
    kept: collections.deque[datetime] = collections.deque(maxlen=n)
    cursor = after
    while True:
        chunk = cron.fire_times(schedule, cursor, until, _CHUNK)
        kept.extend(chunk)
        if len(chunk) < _CHUNK:
            return list(kept)
        cursor = chunk[-1]


def count(schedule: cron.CronSchedule, after: datetime, until: datetime, cap: int) -> int:
    """How many ticks lie in (after, until], counting at most `cap + 1` (callers say "more")."""
    return len(cron.fire_times(schedule, after, until, cap + 1))
