"""`python` executor and the `@chronosched.task` registry."""

from __future__ import annotations

import re
import time
from typing import Any

import pytest

import chronosched
from chronosched import tasks
from chronosched.executors import PayloadError, get_executor
from tests.unit.executor_helpers import make_ctx

CTX = make_ctx("python")
TASK_MODULE = "tests.unit.sample_tasks"
tasks.load_task_modules([TASK_MODULE])


async def run(payload: dict[str, Any], limit: float | None = None) -> Any:
    return await get_executor("python").execute(payload, CTX, limit)


async def test_python__sync_task_runs_in_a_thread() -> None:
    out = await run({"task": "add", "args": {"a": 2, "b": 3}})
    assert out.ok
    assert out.result == 5
    assert out.error is None
    assert (await run({"task": "in_main_thread"})).result is False


async def test_python__async_task_is_awaited() -> None:
    out = await run({"task": "multiply", "args": {"a": 4, "b": 5}})
    assert out.result == 20


async def test_python__ctx_is_passed_when_the_signature_asks() -> None:
    out = await run({"task": "sample.whoami", "args": {"greeting": "hello"}})
    assert out.result == {"greeting": "hello", "job": 42, "attempt": 2, "dag": "7"}
    assert (await run({"task": "async_whoami"})).result == 42


async def test_python__exception_fails_with_type_message_and_traceback() -> None:
    out = await run({"task": "explode", "args": {"reason": "x"}})
    assert not out.ok
    assert out.error == "ValueError: bad input: x"
    assert "Traceback" in out.stderr
    assert "sample_tasks.py" in out.stderr


async def test_python__sys_exit_fails_the_job_not_the_worker() -> None:
    out = await run({"task": "exits"})
    assert not out.ok
    assert out.error == "SystemExit: 3"


async def test_python__a_tasks_own_timeout_error_is_not_our_timeout() -> None:
    out = await run({"task": "own_timeout"}, limit=5)
    assert out.error == "TimeoutError: the database did not answer"


async def test_python__type_error_inside_the_task_is_a_failure() -> None:
    out = await run({"task": "inner_type_error"})
    assert not out.ok
    assert out.error is not None
    assert out.error.startswith("TypeError: object of type 'int' has no len()")


async def test_python__async_timeout() -> None:
    out = await run({"task": "sleep_async", "args": {"seconds": 5}, "timeout": 0.1})
    assert not out.ok
    assert out.error == "timed out after 0.1s"


async def test_python__sync_timeout_abandons_the_thread() -> None:
    started = time.monotonic()
    out = await run({"task": "sleep_sync", "args": {"seconds": 0.4}}, limit=0.1)
    assert out.error == "timed out after 0.1s"
    assert time.monotonic() - started < 0.35


@pytest.mark.parametrize("name", ["not_json", "not_a_number"])
async def test_python__result_must_be_json(name: str) -> None:
    out = await run({"task": name})
    assert not out.ok
    assert out.error is not None
    assert out.error.startswith("result is not JSON-serialisable")


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({"task": "no_such_task"}, "no task named 'no_such_task'"),
        ({}, "'task'"),
        ({"task": "add", "args": [1, 2]}, "args must be an object"),
        ({"task": "add", "args": {"a": 1}}, "bad args for task 'add'.*'b'"),
        ({"task": "add", "args": {"a": 1, "b": 2, "c": 3}}, "bad args for task 'add'"),
        ({"task": "sample.whoami", "args": {"ctx": 1}}, "must not contain 'ctx'"),
        ({"task": "add", "args": {"a": 1, "b": 2}, "timeout": -1}, "timeout"),
    ],
)
async def test_python__invalid_payload_raises_payload_error(
    payload: dict[str, Any], message: str
) -> None:
    with pytest.raises(PayloadError, match=message):
        await run(payload)


def test_registry__decorator_returns_the_function_and_records_how_to_call_it() -> None:
    from tests.unit import sample_tasks

    assert sample_tasks.add(1, 1) == 2
    spec = tasks.get_task("sample.whoami")
    assert spec.fn is sample_tasks.whoami
    assert spec.wants_ctx
    assert not spec.is_async
    assert tasks.get_task("multiply").is_async
    assert not tasks.get_task("add").wants_ctx
    assert "add" in tasks.registry
    assert chronosched.task is tasks.task


def test_registry__a_name_cannot_be_taken_twice() -> None:
    def add() -> None: ...

    with pytest.raises(ValueError, match=re.escape("already used by tests.unit.sample_tasks.add")):
        chronosched.task(add)


def test_registry__reimporting_the_same_function_is_fine() -> None:
    from tests.unit import sample_tasks

    tasks.register(sample_tasks.add)
    assert tasks.get_task("add").fn is sample_tasks.add


def test_registry__register_and_unregister() -> None:
    @chronosched.task(name="temp.echo")
    def echo(x: int) -> int:
        return x

    assert tasks.get_task("temp.echo").fn is echo
    tasks.unregister("temp.echo")
    with pytest.raises(KeyError, match=re.escape("no task named 'temp.echo'")):
        tasks.get_task("temp.echo")


def test_registry__load_task_modules_returns_the_names() -> None:
    names = tasks.load_task_modules([TASK_MODULE])
    assert {"add", "multiply", "sample.whoami"} <= set(names)
