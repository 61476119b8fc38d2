"""`Scheduler.tick(now)` against a real database, with chosen `now` values."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from psycopg.types.json import Jsonb

from chronosched.db import jobs_repo, scheduler_repo
from chronosched.db.pool import AsyncConn, Pool
from chronosched.scheduler import planning, service
from chronosched.scheduler.service import Scheduler, TickReport
from tests import factories

SECOND = timedelta(seconds=1)


def ceil_second(instant: datetime) -> datetime:
    floor = instant.replace(microsecond=0)
    return floor if floor == instant else floor + SECOND


async def created_at(conn: AsyncConn, def_id: str) -> datetime:
    cur = await conn.execute("SELECT created_at FROM job_definitions WHERE id = %s", (def_id,))
    row = await cur.fetchone()
    assert row is not None
    value: datetime = row["created_at"]
    return value


async def fired(conn: AsyncConn, def_id: str) -> list[datetime]:
    cur = await conn.execute(
        "SELECT scheduled_for FROM jobs WHERE def_id = %s ORDER BY scheduled_for", (def_id,)
    )
    return [row["scheduled_for"] for row in await cur.fetchall()]


async def events(conn: AsyncConn, def_id: str) -> list[dict[str, Any]]:
    cur = await conn.execute(
        "SELECT event, scheduled_for, detail FROM scheduler_events WHERE def_id = %s ORDER BY id",
        (def_id,),
    )
    return list(await cur.fetchall())


async def old_definition(
    conn: AsyncConn, name: str, spec: str, age: timedelta, **columns: Any
) -> tuple[str, datetime]:
    """A definition created `age` ago (the factory's are created now)."""
    ns = await factories.default_namespace(conn)
    names = ", ".join(columns)
    marks = "".join(", %s" for _ in columns)
    cur = await conn.execute(
        f"""INSERT INTO job_definitions (namespace_id, name, version, kind, payload_template,
                cron_spec, created_at{", " + names if names else ""})
            VALUES (%s, %s, 1, 'python', %s, %s, now() - %s{marks})
            RETURNING id::text, created_at""",
        (ns, name, Jsonb({}), spec, age, *columns.values()),
    )
    row = await cur.fetchone()
    assert row is not None
    return row["id"], row["created_at"]


async def test_tick__fires_each_due_tick_once(pool: Pool) -> None:
    async with pool.connection() as conn:
        def_id = await factories.definition(conn, "every-second", cron_spec="@every 1s")
        start = await created_at(conn, def_id)
    scheduler = Scheduler(pool, "")
    first = ceil_second(start)
    now = first + 2.5 * SECOND
    report = await scheduler.tick(now)
    expected = [first, first + SECOND, first + 2 * SECOND]
    assert [t for _, t in report.fired] == expected
    assert report.next_tick == first + 3 * SECOND
    again = await scheduler.tick(now)
    assert again.fired == ()
    assert again.lost == 0
    async with pool.connection() as conn:
        assert await fired(conn, def_id) == expected
        cur = await conn.execute(
            "SELECT count(*) AS n FROM jobs WHERE def_id = %s AND dag_id IS NULL "
            "AND status = 'queued'",
            (def_id,),
        )
        row = await cur.fetchone()
        assert row is not None and row["n"] == 3
        assert await events(conn, def_id) == []


@pytest.mark.parametrize("split", [False, True], ids=["one-transaction", "split-rounds"])
async def test_tick__replicas_at_the_same_instant_fire_once(
    pool: Pool, split: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    if split:  # every replica's round of 20 positions goes out as two transactions of 10
        monkeypatch.setattr(service, "SPLIT_ROUND_AT", 3)
    async with pool.connection() as conn:
        ids = [
            await factories.definition(conn, f"d{i}", cron_spec="*/2 * * * * *") for i in range(20)
        ]
        start = await created_at(conn, ids[-1])
    now = start + 6.2 * SECOND
    replicas = [Scheduler(pool, "") for _ in range(3)]
    reports = await asyncio.gather(*(r.tick(now) for r in replicas))
    total = sum(len(r.fired) for r in reports)
    async with pool.connection() as conn:
        per_def = [await fired(conn, d) for d in ids]
    assert all(len(ticks) == len(set(ticks)) and ticks for ticks in per_def)
    assert total == sum(len(t) for t in per_def)
    assert not any(r.replan for r in reports)


async def test_tick__a_split_round_whose_half_fails_leaves_that_half_to_the_next_round(
    pool: Pool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(service, "SPLIT_ROUND_AT", 3)
    async with pool.connection() as conn:
        ids = [await factories.definition(conn, f"d{i}", cron_spec="@every 1s") for i in range(8)]
        start = await created_at(conn, ids[-1])
        _, loaded = await scheduler_repo.load_definitions(conn)
        # The positions are claimed in key order: the last definition is in the second half.
        doomed = max(loaded, key=lambda d: (d.namespace_id, d.name)).def_id
        await conn.execute(
            f"""CREATE FUNCTION test_refuse_job() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN RAISE EXCEPTION 'refused'; END $$;
                CREATE TRIGGER test_refuse_job BEFORE INSERT ON jobs FOR EACH ROW
                WHEN (NEW.def_id = '{doomed}') EXECUTE FUNCTION test_refuse_job();"""
        )
    now = ceil_second(start) + 1.5 * SECOND
    try:
        with pytest.raises(psycopg.errors.RaiseException):
            await Scheduler(pool, "").tick(now)
    finally:
        async with pool.connection() as conn:
            await conn.execute(
                "DROP TRIGGER test_refuse_job ON jobs; DROP FUNCTION test_refuse_job()"
            )
    async with pool.connection() as conn:
        first = {d: await fired(conn, d) for d in ids}
    done = {d for d, ticks in first.items() if ticks}
    assert len(done) == 4 and doomed not in done  # the other half committed on its own
    report = await Scheduler(pool, "").tick(now)
    assert {d for d, _ in report.fired} == set(ids) - done  # the failed half, and only it
    async with pool.connection() as conn:
        after = {d: await fired(conn, d) for d in ids}
    assert all(after[d] == first[d] for d in done)  # nothing fired twice
    assert all(after[d] and len(after[d]) == len(set(after[d])) for d in ids)


async def test_tick__later_round_continues_from_position(pool: Pool) -> None:
    async with pool.connection() as conn:
        def_id = await factories.definition(conn, "every-second", cron_spec="@every 1s")
        start = await created_at(conn, def_id)
    first = ceil_second(start)
    a, b = Scheduler(pool, ""), Scheduler(pool, "")
    await a.tick(first + 0.5 * SECOND)
    report = await b.tick(first + 2.5 * SECOND)
    assert [t for _, t in report.fired] == [first + SECOND, first + 2 * SECOND]


async def test_tick__claim_lost_to_a_partial_move_asks_for_a_new_round(pool: Pool) -> None:
    async with pool.connection() as conn:
        def_id = await factories.definition(conn, "every-second", cron_spec="@every 1s")
        start = await created_at(conn, def_id)
    first = ceil_second(start)
    scheduler = Scheduler(pool, "")
    await scheduler.tick(first + 0.5 * SECOND)
    async with pool.connection() as conn:
        _, (stale,) = await scheduler_repo.load_definitions(conn)
        # Meanwhile another replica, planning with an earlier `now`, moved the position by one.
        await conn.execute("UPDATE cron_state SET last_tick = %s", (first + SECOND,))
    now = first + 3.5 * SECOND
    report = await scheduler._commit([planning.plan(stale, now)], TickReport(now, 1))
    assert (report.fired, report.lost, report.replan) == ((), 1, True)
    again = await scheduler.tick(now)
    assert [t for _, t in again.fired] == [first + 2 * SECOND, first + 3 * SECOND]


async def test_catchup_latest__fires_the_newest_missed_tick(pool: Pool) -> None:
    async with pool.connection() as conn:
        def_id, start = await old_definition(conn, "hourly", "0 * * * *", timedelta(days=1))
    now = (start + timedelta(hours=5)).replace(minute=30, second=0, microsecond=0)
    report = await Scheduler(pool, "").tick(now)
    newest = now.replace(minute=0, second=0, microsecond=0)
    assert [t for _, t in report.fired] == [newest]
    async with pool.connection() as conn:
        kinds = [e["event"] for e in await events(conn, def_id)]
    assert kinds == ["missed_skipped", "caught_up"]


async def test_catchup_none__fires_nothing_missed(pool: Pool) -> None:
    async with pool.connection() as conn:
        def_id, start = await old_definition(
            conn, "hourly", "0 * * * *", timedelta(days=1), catchup="none"
        )
    now = (start + timedelta(hours=5)).replace(minute=30, second=0, microsecond=0)
    scheduler = Scheduler(pool, "")
    assert (await scheduler.tick(now)).fired == ()
    nxt = now.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    assert [t for _, t in (await scheduler.tick(nxt + SECOND)).fired] == [nxt]
    async with pool.connection() as conn:
        (event,) = await events(conn, def_id)
    assert event["event"] == "missed_skipped"
    assert event["detail"].startswith("5 ticks")


async def test_catchup_all__fires_missed_ticks_up_to_the_limit(pool: Pool) -> None:
    async with pool.connection() as conn:
        def_id, start = await old_definition(
            conn, "hourly", "0 * * * *", timedelta(days=1), catchup="all", catchup_limit=3
        )
    now = (start + timedelta(hours=5)).replace(minute=30, second=0, microsecond=0)
    report = await Scheduler(pool, "").tick(now)
    newest = now.replace(minute=0, second=0, microsecond=0)
    assert [t for _, t in report.fired] == [newest - timedelta(hours=h) for h in (2, 1, 0)]
    async with pool.connection() as conn:
        kinds = [e["event"] for e in await events(conn, def_id)]
    assert kinds == ["missed_skipped", "caught_up"]


async def test_overlap_skip__skips_while_previous_run_is_queued(pool: Pool) -> None:
    async with pool.connection() as conn:
        def_id = await factories.definition(
            conn, "no-overlap", cron_spec="@every 1s", overlap="skip"
        )
        start = await created_at(conn, def_id)
    first = ceil_second(start)
    scheduler = Scheduler(pool, "")
    await scheduler.tick(first)
    skipped = await scheduler.tick(first + SECOND)
    assert skipped.fired == ()
    assert [e.event for e in skipped.events] == ["overlap_skipped"]
    async with pool.connection() as conn:
        (job_id,) = [r["id"] for r in await (await conn.execute("SELECT id FROM jobs")).fetchall()]
        await jobs_repo.complete_job(conn, job_id)
    resumed = await scheduler.tick(first + 2 * SECOND)
    assert [t for _, t in resumed.fired] == [first + 2 * SECOND]
    async with pool.connection() as conn:
        assert await fired(conn, def_id) == [first, first + 2 * SECOND]
        (event,) = await events(conn, def_id)
    assert event["scheduled_for"] == first + SECOND
    assert f"job {job_id}" in event["detail"]


async def test_paused__fires_nothing_and_resume_skips_the_pause(pool: Pool) -> None:
    async with pool.connection() as conn:
        def_id, _ = await old_definition(conn, "paused", "@every 1s", timedelta(hours=1))
        await conn.execute("UPDATE job_definitions SET paused = true WHERE id = %s", (def_id,))
        cur = await conn.execute("SELECT now() AS now")
        row = await cur.fetchone()
        assert row is not None
        db_now: datetime = row["now"]
    scheduler = Scheduler(pool, "")
    assert (await scheduler.tick(db_now + 3 * SECOND)).fired == ()
    async with pool.connection() as conn:
        await conn.execute("UPDATE job_definitions SET paused = false WHERE id = %s", (def_id,))
        cur = await conn.execute("SELECT last_tick FROM cron_state")
        row = await cur.fetchone()
        assert row is not None
        resumed_at: datetime = row["last_tick"]
    report = await scheduler.tick(resumed_at + 2.5 * SECOND)
    first = ceil_second(resumed_at)
    assert [t for _, t in report.fired] == [first, first + SECOND, first + 2 * SECOND][
        : len(report.fired)
    ]
    assert report.fired and all(t > resumed_at for _, t in report.fired)
    assert not report.events  # the hour before the pause is not "missed"
    async with pool.connection() as conn:
        kinds = [e["event"] for e in await events(conn, def_id)]
    assert kinds == ["paused", "resumed"]


async def test_new_version__replaces_the_old_schedule_without_refiring(pool: Pool) -> None:
    async with pool.connection() as conn:
        old_id = await factories.definition(conn, "versioned", cron_spec="@every 1s")
        start = await created_at(conn, old_id)
    first = ceil_second(start)
    scheduler = Scheduler(pool, "")
    await scheduler.tick(first + 3.5 * SECOND)  # fires first .. first+3s
    async with pool.connection() as conn, conn.transaction():
        await conn.execute(
            "UPDATE job_definitions SET deleted = true, deleted_at = now() WHERE id = %s",
            (old_id,),
        )
        cur = await conn.execute(
            """INSERT INTO job_definitions (namespace_id, name, version, kind, cron_spec)
               SELECT namespace_id, name, 2, kind, '*/2 * * * * *' FROM job_definitions
                WHERE id = %s RETURNING id::text""",
            (old_id,),
        )
        row = await cur.fetchone()
        assert row is not None
        new_id: str = row["id"]
    # The new version was created (real time) before the old one's last fired tick: it must
    # not fire the ticks its predecessor fired, only later ones.
    report = await scheduler.tick(first + 6.5 * SECOND)
    assert {d for d, _ in report.fired} == {new_id}
    async with pool.connection() as conn:
        old_ticks, new_ticks = await fired(conn, old_id), await fired(conn, new_id)
    assert old_ticks == [first + n * SECOND for n in range(4)]
    assert new_ticks and min(new_ticks) > max(old_ticks)
    assert all(t.second % 2 == 0 for t in new_ticks)


async def test_deleted__stops_firing(pool: Pool) -> None:
    async with pool.connection() as conn:
        def_id = await factories.definition(conn, "doomed", cron_spec="@every 1s")
        start = await created_at(conn, def_id)
    first = ceil_second(start)
    scheduler = Scheduler(pool, "")
    await scheduler.tick(first + 0.5 * SECOND)
    async with pool.connection() as conn:
        await conn.execute(
            "UPDATE job_definitions SET deleted = true, deleted_at = now() WHERE id = %s",
            (def_id,),
        )
    report = await scheduler.tick(first + 5.5 * SECOND)
    assert report.fired == ()
    assert report.definitions == 0
    async with pool.connection() as conn:
        assert await fired(conn, def_id) == [first]


async def test_tick__defaults_to_database_time(pool: Pool) -> None:
    async with pool.connection() as conn:
        await factories.definition(conn, "daily", cron_spec="@daily")
    report = await Scheduler(pool, "").tick()
    assert report.fired == ()
    assert report.now.tzinfo is not None
    assert report.next_tick is not None and report.next_tick > report.now
    assert report.next_tick.astimezone(UTC).time().isoformat() == "00:00:00"
