"""Eager start: a coroutine runs at once; only one that waits becomes a task, which continues it
exactly as a task would have run it from the start (results, exceptions, cancellation,
context)."""

from __future__ import annotations

import asyncio
import contextvars

import pytest

from chronosched.worker import eager

LABEL: contextvars.ContextVar[str] = contextvars.ContextVar("label", default="caller")


async def test_start__a_coroutine_that_never_waits_finishes_at_once_without_a_task() -> None:
    seen: list[str] = []

    async def quick() -> None:
        seen.append("ran")

    assert eager.start(quick()) is None
    assert seen == ["ran"]  # before the caller awaited anything


async def test_start__a_waiting_coroutine_continues_in_a_task() -> None:
    gate: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    seen: list[object] = []

    async def waits() -> None:
        seen.append("before")
        seen.append(await gate)
        await asyncio.sleep(0)  # a bare yield to the loop is passed through too
        seen.append("after")

    task = eager.start(waits(), name="job-1")
    assert task is not None and task.get_name() == "job-1"
    assert seen == ["before"]
    gate.set_result(7)
    await task
    assert seen == ["before", 7, "after"]


async def test_start__an_exception_before_waiting_reaches_the_caller() -> None:
    async def broken() -> None:
        raise ValueError("at once")

    with pytest.raises(ValueError, match="at once"):
        eager.start(broken())


async def test_start__an_exception_after_waiting_ends_up_in_the_task() -> None:
    async def broken_later() -> None:
        await asyncio.sleep(0)
        raise ValueError("later")

    task = eager.start(broken_later())
    assert task is not None
    with pytest.raises(ValueError, match="later"):
        await task


async def test_start__cancelling_the_task_cancels_inside_the_coroutine() -> None:
    cleaned: list[str] = []

    async def sleeper() -> None:
        try:
            await asyncio.sleep(60)
        finally:
            cleaned.append("finally ran")

    task = eager.start(sleeper())
    assert task is not None
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert task.cancelled() and cleaned == ["finally ran"]


async def test_start__a_coroutine_may_catch_the_cancellation_and_finish() -> None:
    async def stubborn() -> None:
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            await asyncio.sleep(0)  # cleanup that itself waits

    task = eager.start(stubborn())
    assert task is not None
    await asyncio.sleep(0)
    task.cancel()
    await task
    assert task.done() and not task.cancelled()


async def test_start__context_changes_stay_with_the_job_across_its_waits() -> None:
    seen: list[str] = []

    async def labelled() -> None:
        LABEL.set("job")
        await asyncio.sleep(0)
        seen.append(LABEL.get())

    task = eager.start(labelled())
    assert LABEL.get() == "caller"  # the first step's change did not leak to the caller
    assert task is not None
    await task
    assert seen == ["job"] and LABEL.get() == "caller"
