"""`process.run_process` on the pidfd path only: no thread per child, and the thread it falls
back to when no pidfd can be opened for a child (out of descriptors, say)."""

from __future__ import annotations

import asyncio
import errno
import os
import threading
from pathlib import Path

import pytest

from chronosched.executors import process
from tests.unit.executor_helpers import is_running, wait_for_pids

pytestmark = pytest.mark.skipif(not process.pidfd_usable(), reason="no pidfd_open here")


@pytest.fixture(autouse=True)
def pidfd_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(process, "PIDFD", True)


async def run(script: str) -> process.ProcessRun:
    return await process.run_process(
        ["/bin/sh", "-c", script], env=dict(os.environ), cwd=None, time_limit=None
    )


async def test_pidfd__waits_without_a_thread(tmp_path: Path) -> None:
    pidfile = tmp_path / "pid"
    threads = set(threading.enumerate())
    job = asyncio.ensure_future(run(f"echo $$ > {pidfile}; exec sleep 30"))
    (pid,) = await wait_for_pids(pidfile, 1)
    assert set(threading.enumerate()) == threads
    job.cancel()
    with pytest.raises(asyncio.CancelledError):
        await job
    assert not is_running(pid)


async def test_pidfd__a_child_without_a_pidfd_is_reaped_by_a_thread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_pidfd(pid: int, flags: int = 0) -> int:
        raise OSError(errno.EMFILE, "Too many open files")

    monkeypatch.setattr(os, "pidfd_open", no_pidfd)
    pidfile = tmp_path / "pid"
    job = asyncio.ensure_future(run(f"echo $$ > {pidfile}; echo out; sleep 0.2; exit 3"))
    (pid,) = await wait_for_pids(pidfile, 1)
    assert f"waitpid-{pid}" in {t.name for t in threading.enumerate()}
    run_ = await job
    assert (run_.exit_code, run_.stdout.tail()) == (3, "out\n")
    with pytest.raises(ChildProcessError):  # reaped, not left a zombie
        os.waitpid(pid, os.WNOHANG)  # noqa: ASYNC222 -- WNOHANG never blocks


async def test_pidfd__a_failing_descriptor_callback_is_reported_and_the_others_still_run() -> None:
    loop = asyncio.get_running_loop()
    watcher = process._watcher(loop)
    reported: list[dict[str, object]] = []
    served = asyncio.Event()
    pipes = [os.pipe(), os.pipe()]

    def broken() -> None:
        watcher.remove(pipes[0][0])  # served once, then never again
        raise RuntimeError("boom")

    def fine() -> None:
        os.read(pipes[1][0], 10)
        watcher.remove(pipes[1][0])
        served.set()

    previous = loop.get_exception_handler()
    loop.set_exception_handler(lambda _loop, context: reported.append(context))
    try:
        watcher.add(pipes[0][0], broken)
        watcher.add(pipes[1][0], fine)
        for _, write_end in pipes:
            os.write(write_end, b"x")
        await asyncio.wait_for(served.wait(), 5)
    finally:
        loop.set_exception_handler(previous)
        for read_end, write_end in pipes:
            os.close(read_end)
            os.close(write_end)
    assert [type(c["exception"]) for c in reported] == [RuntimeError]
    assert process._watcher(loop) is watcher  # one per loop
