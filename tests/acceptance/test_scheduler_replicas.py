"""Three real `chronosched scheduler` processes share the cron work with no leader: one job per
tick, none missing, while one replica is SIGKILLed and restarted midway (~30 s)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

import psycopg

RUN_SECONDS = 26.0
KILL_AT, RESTART_AT = 9.0, 14.0
SPECS = {"every-second": ("@every 1s", 1), "even-seconds": ("*/2 * * * * *", 2)}


def _start(db_url: str, log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "DATABASE_URL": db_url, "CHRONOSCHED_LOG_LEVEL": "warning"}
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "chronosched", "scheduler"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def _create_definitions(db_url: str) -> dict[str, tuple[str, datetime]]:
    created: dict[str, tuple[str, datetime]] = {}
    with psycopg.connect(db_url, autocommit=True) as conn:
        for name, (spec, _) in SPECS.items():
            row = conn.execute(
                """INSERT INTO job_definitions (namespace_id, name, version, kind, cron_spec)
                   SELECT id, %s, 1, 'python', %s FROM namespaces WHERE name = 'default'
                   RETURNING id::text, created_at""",
                (name, spec),
            ).fetchone()
            assert row is not None
            created[name] = (row[0], row[1])
    return created


def _expected_ticks(created: datetime, last: datetime, step: int) -> list[datetime]:
    tick = created.replace(microsecond=0) + timedelta(seconds=1)
    while tick.second % step:
        tick += timedelta(seconds=1)
    out = []
    while tick <= last:
        out.append(tick)
        tick += timedelta(seconds=step)
    return out


def test_replicas__one_job_per_tick_through_a_crash(db_url: str, tmp_path: Path) -> None:
    created = _create_definitions(db_url)
    logs = [tmp_path / f"scheduler-{i}.log" for i in range(3)]
    procs = [_start(db_url, log) for log in logs]
    began = time.monotonic()
    try:
        time.sleep(KILL_AT)
        procs[0].send_signal(signal.SIGKILL)
        assert procs[0].wait(timeout=5) == -signal.SIGKILL
        time.sleep(RESTART_AT - KILL_AT)
        procs[0] = _start(db_url, logs[0])
        time.sleep(max(0.0, RUN_SECONDS - (time.monotonic() - began)))
        assert all(p.poll() is None for p in procs), "a scheduler died"
        with psycopg.connect(db_url) as conn:
            row = conn.execute("SELECT now()").fetchone()
            assert row is not None
            stopped_at: datetime = row[0]
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        codes = [p.wait(timeout=15) for p in procs]
    output = "\n".join(log.read_text(errors="replace") for log in logs)
    assert codes == [0, 0, 0], output
    with psycopg.connect(db_url) as conn:
        for name, (def_id, created_at) in created.items():
            fired = [
                r[0]
                for r in conn.execute(
                    "SELECT scheduled_for FROM jobs WHERE def_id = %s ORDER BY scheduled_for",
                    (def_id,),
                )
            ]
            step = SPECS[name][1]
            # Every tick from the definition's creation to the end, each exactly once.
            assert fired == _expected_ticks(created_at, fired[-1], step), name
            assert fired[-1] >= stopped_at - timedelta(seconds=step + 1), name
            assert len(fired) >= RUN_SECONDS / step - 3, name
        skipped = conn.execute("SELECT count(*) FROM scheduler_events").fetchone()
        assert skipped == (0,), output
