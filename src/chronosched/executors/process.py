"""Run a child process as its own process group, capture bounded output, and kill it reliably.

A job is its process group (`start_new_session=True`): on timeout, on cancellation (the worker
lost its lease) and when members linger after the main process has exited, the whole group gets
SIGTERM, then SIGKILL after `KILL_GRACE`. Output arrives through a protocol callback and goes
straight into bounded buffers, so a job printing gigabytes costs at most ~1 MiB per stream.

Result shape shared by `cmd` and `binary` (stored on the job):
- `{"exitCode": n, "output": <value>}` when stdout is JSON (up to `JSON_OUTPUT_LIMIT`),
- `{"exitCode": n, "stdout": "<last 64 KiB>"}` otherwise.
`n` is negative when the process was killed by a signal (-9 = SIGKILL), as in `subprocess`.
"""

from __future__ import annotations

import asyncio
import errno
import os
import signal
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from chronosched.executors.base import (
    OUTPUT_LIMIT,
    ExecutionOutcome,
    decode_tail,
    parse_json,
    timed_out_message,
)

KILL_GRACE = 2.0  # seconds between SIGTERM and SIGKILL; enough for a shell trap to clean up
DRAIN_GRACE = 0.5  # seconds for the pipes to close after the main process has exited
JSON_OUTPUT_LIMIT = 1024 * 1024  # stdout up to this size is kept whole so it can parse as JSON

_background: set[asyncio.Task[None]] = set()  # kill tasks that must outlive a second cancel


class OutputBuffer:
    """Keeps everything up to `whole_limit` bytes, then only the last `keep` bytes."""

    __slots__ = ("_data", "_keep", "_whole_limit", "truncated")

    def __init__(self, keep: int = OUTPUT_LIMIT, whole_limit: int = OUTPUT_LIMIT) -> None:
        self._data = bytearray()
        self._keep = keep
        self._whole_limit = max(whole_limit, keep)
        self.truncated = False

    def feed(self, chunk: bytes) -> None:
        data = self._data
        data += chunk
        if self.truncated:
            if len(data) > 2 * self._keep:  # trim in batches: amortised O(1) per byte
                del data[: -self._keep]
        elif len(data) > self._whole_limit:
            self.truncated = True
            del data[: -self._keep]

    def tail(self) -> str:
        if len(self._data) <= self._keep and not self.truncated:
            return self._data.decode("utf-8", errors="replace")
        return decode_tail(bytes(self._data[-self._keep :]))

    def whole(self) -> str | None:
        """All the output, or None when it outgrew `whole_limit`."""
        return None if self.truncated else self._data.decode("utf-8", errors="replace")


class _Capture(asyncio.SubprocessProtocol):
    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.stdout = OutputBuffer(whole_limit=JSON_OUTPUT_LIMIT)
        self.stderr = OutputBuffer()
        # `exited`: the main process ended; `closed`: it ended and every pipe is closed.
        self.exited: asyncio.Future[None] = loop.create_future()
        self.closed: asyncio.Future[None] = loop.create_future()

    def pipe_data_received(self, fd: int, data: bytes) -> None:
        (self.stdout if fd == 1 else self.stderr).feed(data)

    def process_exited(self) -> None:
        if not self.exited.done():
            self.exited.set_result(None)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closed.done():
            self.closed.set_result(None)


@dataclass(slots=True)
class ProcessRun:
    exit_code: int | None
    stdout: OutputBuffer = field(default_factory=OutputBuffer)
    stderr: OutputBuffer = field(default_factory=OutputBuffer)
    timed_out: bool = False
    start_error: str | None = None


async def run_process(
    argv: Sequence[str],
    *,
    env: dict[str, str],
    cwd: str | None,
    time_limit: float | None,
    kill_grace: float = KILL_GRACE,
) -> ProcessRun:
    """Run `argv` (no shell) to completion, timeout or cancellation; never leaves a child behind."""
    loop = asyncio.get_running_loop()
    try:
        transport, capture = await loop.subprocess_exec(
            lambda: _Capture(loop),
            *argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            cwd=cwd,
            start_new_session=True,
        )
    except OSError as exc:
        return ProcessRun(exit_code=None, start_error=_start_error(exc))
    pgid = transport.get_pid()  # the leader of a new session: its pid is the group id
    try:
        timed_out = not await _within(capture.exited, time_limit)
        if timed_out or not await _within(capture.closed, DRAIN_GRACE) or await _group_alive(pgid):
            await terminate_group(pgid, kill_grace)
        # A member that escaped the group (setsid) may still hold a pipe: do not wait for it.
        await _within(capture.closed, DRAIN_GRACE)
        await _within(capture.exited, kill_grace)
    except asyncio.CancelledError:
        await _terminate_despite_cancel(pgid, kill_grace)
        raise
    finally:
        transport.close()
    return ProcessRun(transport.get_returncode(), capture.stdout, capture.stderr, timed_out)


async def terminate_group(pgid: int, grace: float = KILL_GRACE) -> None:
    """SIGTERM the process group, then SIGKILL whatever is still there after `grace` seconds."""
    if not _signal_group(pgid, signal.SIGTERM):
        return
    loop = asyncio.get_running_loop()
    deadline = loop.time() + grace
    delay = 0.005
    # No event tells us a group is empty, so poll it, backing off from 5 ms to 100 ms.
    while loop.time() < deadline:
        await asyncio.sleep(delay)
        if not await _group_alive(pgid):
            return
        delay = min(delay * 2, 0.1)
    _signal_group(pgid, signal.SIGKILL)


async def _terminate_despite_cancel(pgid: int, grace: float) -> None:
    # Run the kill in its own task so that a second cancellation cannot stop it half-way.
    task = asyncio.ensure_future(terminate_group(pgid, grace))
    _background.add(task)
    task.add_done_callback(_background.discard)
    await asyncio.shield(task)


async def _within(future: asyncio.Future[None], seconds: float | None) -> bool:
    """Wait for `future` up to `seconds` without cancelling it; True when it is done."""
    if not future.done():
        await asyncio.wait((future,), timeout=seconds)
    return future.done()


def _signal_group(pgid: int, sig: signal.Signals) -> bool:
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        return False
    return True


async def _group_alive(pgid: int) -> bool:
    """True while a member of the group is running (zombies do not count)."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # a member changed user (setuid): it still exists
        pass
    # killpg also succeeds while only zombies are left, and orphans are reaped by PID 1, which
    # can take a second or never happen (a container without an init). Look closer in /proc.
    return await asyncio.to_thread(_has_running_member, pgid)


def _has_running_member(pgid: int) -> bool:
    wanted = str(pgid).encode()
    try:
        entries = os.listdir("/proc")
    except OSError:  # no procfs (not Linux): trust killpg
        return True
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as stat_file:
                stat = stat_file.read()
        except OSError:  # exited meanwhile
            continue
        # "pid (comm) state ppid pgrp ...": comm may contain spaces and parentheses.
        fields = stat[stat.rfind(b")") + 2 :].split()
        if len(fields) > 2 and fields[2] == wanted and fields[0] not in (b"Z", b"X"):
            return True
    return False


def _start_error(exc: OSError) -> str:
    what = f"{exc.strerror or exc}" + (f": {exc.filename!r}" if exc.filename else "")
    if exc.errno == errno.E2BIG:
        what += " (an environment variable, e.g. the parent results, exceeds 128 KiB)"
    return f"cannot start process: {what}"


def outcome_of(run: ProcessRun, timeout: float | None) -> ExecutionOutcome:
    """Turn a finished run into the stored outcome (see the module docstring for the shape)."""
    if run.start_error is not None:
        return ExecutionOutcome(ok=False, result=None, error=run.start_error)
    rc = run.exit_code
    stdout = run.stdout.tail()
    result: dict[str, Any] = {"exitCode": rc}
    whole = run.stdout.whole()
    is_json, value = parse_json(whole) if whole else (False, None)
    if is_json:
        result["output"] = value
    else:
        result["stdout"] = stdout
    error = _failure(rc, timeout if run.timed_out else None)
    return ExecutionOutcome(error is None, result, error, stdout, run.stderr.tail(), rc)


def _failure(rc: int | None, timed_out_after: float | None) -> str | None:
    if timed_out_after is not None:
        return timed_out_message(timed_out_after)
    if rc == 0:
        return None
    if rc is None:
        return "process did not report an exit status"
    if rc < 0:
        try:
            return f"killed by signal {signal.Signals(-rc).name}"
        except ValueError:
            return f"killed by signal {-rc}"
    return f"exit code {rc}"
