"""Adding edges: validation, idempotence, and cycle refusal (single, bulk, concurrent)."""

from __future__ import annotations

import asyncio

import pytest

from chronosched import errors
from chronosched.db import dependencies_repo as deps
from chronosched.db.pool import Pool
from tests import factories as f


async def _edge_count(pool: Pool, dag: str) -> int:
    async with pool.connection() as conn:
        cur = await conn.execute(
            "SELECT count(*) AS n FROM job_dependencies WHERE dag_id = %s", (dag,)
        )
        row = await cur.fetchone()
    assert row is not None
    return int(row["n"])


async def test_add_edges__cycle_refused_naming_it_and_nothing_changes(pool: Pool) -> None:
    async with pool.connection() as conn:
        d = await f.definition(conn, "s")
        dag = await f.dag(conn)
        a, b, c = await f.jobs(conn, d, 3, dag_id=dag)
        await deps.add_edges(conn, dag, [deps.Edge(a, b), deps.Edge(b, c)])
        with pytest.raises(errors.CycleError) as info:
            await deps.add_edges(conn, dag, [deps.Edge(c, a)])
    assert set(info.value.cycle) == {a, b, c}
    assert f"{a}" in info.value.detail
    assert await _edge_count(pool, dag) == 2


async def test_add_edges__cycle_within_one_bulk_request_refused(pool: Pool) -> None:
    async with pool.connection() as conn:
        d = await f.definition(conn, "s")
        dag = await f.dag(conn)
        a, b, c = await f.jobs(conn, d, 3, dag_id=dag)
        with pytest.raises(errors.CycleError):
            await deps.add_edges(conn, dag, [deps.Edge(a, b), deps.Edge(b, c), deps.Edge(c, a)])
    assert await _edge_count(pool, dag) == 0


async def test_add_edges__concurrent_halves_of_a_cycle_cannot_both_land(pool: Pool) -> None:
    async with pool.connection() as conn:
        d = await f.definition(conn, "s")
        dag = await f.dag(conn)
        a, b = await f.jobs(conn, d, 2, dag_id=dag)

    async def add(edge: deps.Edge) -> str:
        async with pool.connection() as conn:
            try:
                await deps.add_edges(conn, dag, [edge])
            except errors.CycleError:
                return "refused"
            return "added"

    outcomes = await asyncio.gather(*(add(deps.Edge(a, b)), add(deps.Edge(b, a))))
    assert sorted(outcomes) == ["added", "refused"]
    assert await _edge_count(pool, dag) == 1


async def test_add_edges__repeat_is_idempotent_other_type_conflicts(pool: Pool) -> None:
    async with pool.connection() as conn:
        d = await f.definition(conn, "s")
        dag = await f.dag(conn)
        a, b = await f.jobs(conn, d, 2, dag_id=dag)
        assert await deps.add_edges(conn, dag, [deps.Edge(a, b)]) == 1
        assert await deps.add_edges(conn, dag, [deps.Edge(a, b)]) == 0
        with pytest.raises(errors.Conflict, match="already exists"):
            await deps.add_edges(conn, dag, [deps.Edge(a, b, "order-only")])


@pytest.mark.parametrize("bad", ["self", "foreign", "type"])
async def test_add_edges__invalid_edges_name_their_index(pool: Pool, bad: str) -> None:
    async with pool.connection() as conn:
        d = await f.definition(conn, "s")
        dag, other = await f.dag(conn, "one"), await f.dag(conn, "two")
        a, b = await f.jobs(conn, d, 2, dag_id=dag)
        [x] = await f.jobs(conn, d, dag_id=other)
        edge = {
            "self": deps.Edge(b, b),
            "foreign": deps.Edge(a, x),
            "type": deps.Edge(a, b, "sometimes"),
        }[bad]
        with pytest.raises(errors.ChronoschedError, match="item 1"):
            await deps.add_edges(conn, dag, [deps.Edge(a, b), edge])
    assert await _edge_count(pool, dag) == 0


async def test_add_edges__refuses_child_that_already_started(pool: Pool) -> None:
    from chronosched.db import jobs_repo

    async with pool.connection() as conn:
        d = await f.definition(conn, "s")
        dag = await f.dag(conn)
        a, b = await f.jobs(conn, d, 2, dag_id=dag)
        await jobs_repo.complete_job(conn, b)
        with pytest.raises(errors.Conflict, match="already started or finished"):
            await deps.add_edges(conn, dag, [deps.Edge(a, b)])


async def test_remove_edges__child_becomes_ready(pool: Pool) -> None:
    async with pool.connection() as conn:
        d = await f.definition(conn, "s")
        dag = await f.dag(conn)
        a, b = await f.jobs(conn, d, 2, dag_id=dag)
        await deps.add_edges(conn, dag, [deps.Edge(a, b)])
        assert await f.status(conn, b) == "waiting"
        assert await deps.remove_edges(conn, dag, [(a, b)]) == 1
        assert await f.status(conn, b) == "queued"


async def test_insert_graph__born_waiting_and_ready_after_parents(pool: Pool) -> None:
    from chronosched.db import jobs_repo

    async with pool.connection() as conn:
        d = await f.definition(conn, "s")
        dag = await f.dag(conn)
        a, b, c = await deps.insert_graph(
            conn,
            dag,
            [jobs_repo.NewJob(def_id=d, name=n) for n in ("a", "b", "c")],
            [(0, 2, "data"), (1, 2, "order-only")],
        )
        assert [await f.status(conn, j) for j in (a, b, c)] == ["queued", "queued", "waiting"]
        await jobs_repo.complete_job(conn, a)
        assert await f.status(conn, c) == "waiting"
        await jobs_repo.fail_job(conn, b)
        assert await f.status(conn, c) == "queued"
        # and later edges still work on top of the graph
        [x] = await f.jobs(conn, d, dag_id=dag)
        with pytest.raises(errors.CycleError):
            await deps.add_edges(conn, dag, [deps.Edge(x, a), deps.Edge(a, x)])


async def test_insert_graph__cycle_refused_and_nothing_inserted(pool: Pool) -> None:
    from chronosched.db import jobs_repo

    async with pool.connection() as conn:
        d = await f.definition(conn, "s")
        dag = await f.dag(conn)
        with pytest.raises(errors.CycleError) as info:
            await deps.insert_graph(
                conn,
                dag,
                [jobs_repo.NewJob(def_id=d) for _ in range(3)],
                [(0, 1, "data"), (1, 2, "data"), (2, 0, "data")],
            )
        assert set(info.value.cycle) == {0, 1, 2}
        cur = await conn.execute("SELECT count(*) AS n FROM jobs WHERE dag_id = %s", (dag,))
        row = await cur.fetchone()
    assert row is not None
    assert row["n"] == 0


async def test_remove_edges__only_within_the_named_dag(pool: Pool) -> None:
    async with pool.connection() as conn:
        d = await f.definition(conn, "s")
        dag, other = await f.dag(conn, "one"), await f.dag(conn, "two")
        a, b = await f.jobs(conn, d, 2, dag_id=dag)
        await deps.add_edges(conn, dag, [deps.Edge(a, b)])
        assert await deps.remove_edges(conn, other, [(a, b)]) == 0
        assert await f.status(conn, b) == "waiting"
