"""`process.run_process` itself, on both ways of watching a child: what it leaves behind (no
open descriptors, no zombie) and a group member that escapes with the output pipe; the pidfd
path alone is in test_process_pidfd."""

from __future__ import annotations

import asyncio
import gc
import os
import signal
from pathlib import Path

import pytest

from chronosched.executors import process
from tests.unit.executor_helpers import is_running, wait_for_pids

pytestmark = pytest.mark.usefixtures("spawn_path")  # each test on both spawn paths


async def run(script: str, time_limit: float | None = None) -> process.ProcessRun:
    return await process.run_process(
        ["/bin/sh", "-c", script], env=dict(os.environ), cwd=None, time_limit=time_limit
    )


def open_fds() -> set[str]:
    return set(os.listdir("/proc/self/fd"))


async def settled_fds(expected: set[str]) -> set[str]:
    """asyncio's transports close their pipes a loop turn after `close()`: let them."""
    for _ in range(20):
        fds = open_fds()
        if fds == expected:
            break
        await asyncio.sleep(0)
    return fds


async def test_process__exit_code_and_both_streams() -> None:
    run_ = await run("echo out; echo err >&2; exit 7")
    assert run_.exit_code == 7
    assert run_.stdout.whole() == "out\n"
    assert run_.stderr.tail() == "err\n"
    assert not run_.timed_out
    assert run_.start_error is None


async def test_process__output_bigger_than_one_read_arrives_whole() -> None:
    run_ = await run(f"head -c {3 * process.READ_SIZE + 5} /dev/zero | tr '\\0' x")
    assert run_.exit_code == 0
    assert run_.stdout.whole() == "x" * (3 * process.READ_SIZE + 5)


async def test_process__leaves_no_descriptor_open(tmp_path: Path) -> None:
    await run("true")  # the loop's own watcher (one epoll set for the loop's life) is made first
    before = open_fds()
    await run("echo hello")
    await run("exit 3")
    await run("sleep 30", time_limit=0.05)
    missing = await process.run_process(["/no/such/program"], env={}, cwd=None, time_limit=None)
    assert missing.start_error is not None
    nowhere = await process.run_process(
        ["/bin/sh", "-c", "true"], env={}, cwd=str(tmp_path / "absent"), time_limit=None
    )
    assert nowhere.start_error is not None
    assert await settled_fds(before) == before


def test_process__an_event_loop_leaves_no_descriptor_open_once_it_is_gone() -> None:
    async def children() -> None:
        await asyncio.gather(run("echo out"), run("echo err >&2"), run("exit 3"))

    asyncio.run(children())  # anything made once per process (e.g. /dev/null) exists now
    gc.collect()
    before = open_fds()
    for _ in range(5):
        asyncio.run(children())
    gc.collect()
    assert open_fds() == before


async def test_process__the_child_is_reaped_when_it_returns() -> None:
    run_ = await run("echo $$; exit 4")
    pid = int(run_.stdout.tail())
    assert run_.exit_code == 4
    with pytest.raises(ChildProcessError):  # not a zombie of ours: already waited for
        os.waitpid(pid, os.WNOHANG)  # noqa: ASYNC222 -- WNOHANG never blocks


async def test_process__a_member_that_escapes_with_stdout_does_not_hold_the_job(
    tmp_path: Path,
) -> None:
    pidfile = tmp_path / "pid"
    # `setsid` leaves the job's process group (so its kill cannot reach it) with stdout open.
    run_ = await run(f"setsid sh -c 'echo $$ > {pidfile}; exec sleep 30' & echo main")
    (escaped,) = await wait_for_pids(pidfile, 1)
    try:
        assert run_.exit_code == 0
        assert run_.stdout.tail() == "main\n"
        assert is_running(escaped)
    finally:
        os.kill(escaped, signal.SIGKILL)


async def test_process__the_child_leads_its_session_with_stdin_from_devnull_and_three_fds() -> None:
    read_end, write_end = os.pipe()
    os.set_inheritable(write_end, True)  # as a supervisor's pipe handed to the worker would be
    try:
        # `cat` ends at once on /dev/null; fields 1, 5, 6 of /proc/PID/stat: pid, pgrp, session.
        run_ = await run('cat; set -- $(cat /proc/$$/stat); echo "$1 $5 $6"; ls /proc/$$/fd')
    finally:
        os.close(read_end)
        os.close(write_end)
    assert run_.exit_code == 0, run_.stderr.tail()
    pid, pgrp, session, *fds = run_.stdout.tail().split()
    assert pid == pgrp == session
    # Nothing of the worker's leaks into a job, not even an inheritable descriptor (Popen's
    # close_fds; os.posix_spawn, a little cheaper, would pass those on before Python 3.13).
    assert sorted(fds) == ["0", "1", "2"]


async def test_process__the_child_gets_sigpipe_back_at_its_default() -> None:
    # Python ignores SIGPIPE; a child that inherited that would see `yes` fail with EPIPE.
    run_ = await run("yes | head -n 1")
    assert (run_.exit_code, run_.stdout.tail(), run_.stderr.tail()) == (0, "y\n", "")


async def test_process__a_bare_program_name_is_found_on_the_jobs_path(tmp_path: Path) -> None:
    program = tmp_path / "only-here"
    program.write_text("#!/bin/sh\necho found\n")
    program.chmod(0o755)
    run_ = await process.run_process(
        ["only-here"], env={"PATH": str(tmp_path)}, cwd=None, time_limit=None
    )
    assert (run_.exit_code, run_.stdout.tail()) == (0, "found\n")


async def test_process__runs_in_the_given_directory(tmp_path: Path) -> None:
    run_ = await process.run_process(
        ["/bin/sh", "-c", "pwd"], env={}, cwd=str(tmp_path), time_limit=None
    )
    assert run_.stdout.tail() == f"{tmp_path}\n"
