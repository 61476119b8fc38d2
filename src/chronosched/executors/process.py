"""Run a child process as its own process group, capture bounded output, and kill it reliably.

A job is its process group (`start_new_session=True`): on timeout, on cancellation (the worker
lost its lease) and when members linger after the main process has exited, the whole group gets
SIGTERM, then SIGKILL after `KILL_GRACE`. Output arrives through a protocol callback and goes
straight into bounded buffers, so a job printing gigabytes costs at most ~1 MiB per stream.

Result shape shared by `cmd` and `binary` (stored on the job):
- `{"exitCode": n, "output": <value>}` when stdout is JSON (up to `JSON_OUTPUT_LIMIT`),
- `{"exitCode": n, "stdout": "<last 64 KiB>"}` otherwise.
`n` is negative when the process was killed by a signal (-9 = SIGKILL), as in `subprocess`.

Watching the child (issue 4, cmd throughput). Where Linux has pidfds (>= 5.3: `PIDFD`), the
child is started with `subprocess.Popen` and the event loop watches its two output pipes and its
pidfd directly (`_PidfdChild`). asyncio's own path (`loop.subprocess_exec`, the fallback) costs
a third more CPU per child (three pipe transports, a task, ~20 loop callbacks), and twice as much
with Python 3.11's default child watcher, which starts a thread per child to `waitpid()` it.
Those three descriptors go into one epoll set per event loop (`_Watcher`), not into the loop's
own selector: `loop.add_reader` + `remove_reader` cost ~25 µs per child for the three, a plain
`epoll.register` + `unregister` ~5 µs.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import functools
import logging
import os
import select
import signal
import subprocess
import threading
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

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
READ_SIZE = 256 * 1024  # bytes per read from a pipe (asyncio's pipe transports read as much)

_background: set[asyncio.Task[None]] = set()  # kill tasks that must outlive a second cancel

log = logging.getLogger(__name__)


def pidfd_usable() -> bool:
    """True when this kernel lets us open a pidfd (Linux >= 5.3, not blocked by seccomp)."""
    if not hasattr(os, "pidfd_open"):
        return False
    try:
        os.close(os.pidfd_open(os.getpid()))
    except OSError:
        return False
    return True


PIDFD = pidfd_usable()  # watch children through pidfds (else through asyncio's subprocess path)


def _open_devnull() -> int:
    """/dev/null for every child's stdin, opened once (close-on-exec; Popen dup2()s it onto the
    child's fd 0): `stdin=subprocess.DEVNULL` opens and closes it for each child, two system
    calls and a path lookup on the event-loop thread."""
    try:
        return os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:  # a sandbox without /dev/null: let Popen try for each child
        return subprocess.DEVNULL


DEVNULL = _open_devnull()


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
    """Output into bounded buffers, and the two moments `run_process` waits for. Driven by
    `_PidfdChild`, or by asyncio's subprocess transport on the fallback path."""

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


class _Watcher:
    """Readiness of many descriptors through one epoll set, itself one reader of the event loop.

    asyncio's `add_reader` builds a handle and a selector key and raises and catches a KeyError
    for each new descriptor; a child has three (two pipes, its pidfd), all short-lived. Here each
    is one `epoll.register` and one dict entry, and a whole round of ready descriptors is
    dispatched from a single loop callback. Level-triggered like the loop's selector: a callback
    that leaves data unread is called again on the next round.
    """

    __slots__ = ("_callbacks", "_epoll")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._epoll = select.epoll()  # close-on-exec, so children never inherit it
        self._callbacks: dict[int, Callable[[], None]] = {}
        loop.add_reader(self._epoll.fileno(), self._dispatch)

    def add(self, fd: int, callback: Callable[[], None]) -> None:
        self._epoll.register(fd, select.EPOLLIN)
        self._callbacks[fd] = callback

    def remove(self, fd: int) -> None:
        """Stop watching `fd`; call before closing it (a closed descriptor leaves the set only
        once no other copy of it is open)."""
        del self._callbacks[fd]
        self._epoll.unregister(fd)

    def _dispatch(self) -> None:
        """Serve one round. A callback that raises ends the round; the loop reports the error
        like any reader's, and the descriptors not yet served are still ready next round."""
        callbacks = self._callbacks
        for fd, _ in self._epoll.poll(0):
            callback = callbacks.get(fd)  # None: removed by an earlier callback of this round
            if callback is not None:
                callback()


_watchers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Watcher] = (
    weakref.WeakKeyDictionary()
)


def _watcher(loop: asyncio.AbstractEventLoop) -> _Watcher:
    """The loop's watcher, made on first use; it goes (and its epoll set closes) with the loop."""
    watcher = _watchers.get(loop)
    if watcher is None:
        watcher = _watchers[loop] = _Watcher(loop)
    return watcher


class _Child(Protocol):
    """A started child as `run_process` needs it."""

    @property
    def pid(self) -> int: ...

    @property
    def returncode(self) -> int | None: ...

    def close(self) -> None:
        """Stop reading its output; SIGKILL the main process if it still runs."""


class _PidfdChild:
    """A child started by `subprocess.Popen` and watched by the event loop's `_Watcher`: each
    output pipe feeds `capture` when readable, and its pidfd reaps it the moment it exits.
    `capture.exited` is set once it is reaped, `capture.closed` once both pipes are closed too
    (as asyncio's subprocess transport does).
    """

    __slots__ = ("_capture", "_loop", "_pidfd", "_pipes", "_proc", "_watcher", "pid", "returncode")

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        argv: Sequence[str],
        env: dict[str, str],
        cwd: str | None,
        capture: _Capture,
    ) -> None:
        self._loop = loop
        self._watcher = watcher = _watcher(loop)
        self._capture = capture
        self.returncode: int | None = None
        self._pipes: dict[int, int] = {}  # read end -> stream (1 stdout, 2 stderr)
        self._pidfd = -1
        write_ends: list[int] = []
        try:
            for stream in (1, 2):
                read_end, write_end = os.pipe()  # both close-on-exec; Popen dup2()s the child's
                self._pipes[read_end] = stream
                write_ends.append(write_end)
            self._proc = subprocess.Popen(
                argv,
                stdin=DEVNULL,
                stdout=write_ends[0],
                stderr=write_ends[1],
                env=env,
                cwd=cwd,
                start_new_session=True,
            )
        except BaseException:
            for read_end in self._pipes:
                os.close(read_end)
            raise
        finally:
            # The child has its own copies: EOF comes once it (and whatever inherited them) exit.
            for write_end in write_ends:
                os.close(write_end)
        self.pid = self._proc.pid
        for read_end, stream in self._pipes.items():
            os.set_blocking(read_end, False)
            watcher.add(read_end, functools.partial(self._read, read_end, stream))
        try:
            self._pidfd = os.pidfd_open(self.pid)
        except OSError:  # out of file descriptors, say: a thread waits for this one instead
            threading.Thread(
                target=self._wait_in_thread, name=f"waitpid-{self.pid}", daemon=True
            ).start()
        else:
            watcher.add(self._pidfd, self._reap)

    def _read(self, read_end: int, stream: int) -> None:
        try:
            data = os.read(read_end, READ_SIZE)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:  # treat like the end of the stream
            data = b""
        if data:
            self._capture.pipe_data_received(stream, data)
            return
        self._close_pipe(read_end)
        if not self._pipes and self.returncode is not None:
            self._capture.connection_lost(None)

    def _close_pipe(self, read_end: int) -> None:
        del self._pipes[read_end]
        self._watcher.remove(read_end)
        os.close(read_end)

    def _reap(self) -> None:
        try:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
        except ChildProcessError:  # reaped by someone else; asyncio reports 255 then, too
            log.warning("child %d was reaped elsewhere: reporting exit code 255", self.pid)
            code = 255
        else:
            if pid == 0:  # not exited after all (a pidfd is readable only once it has)
                return
            code = os.waitstatus_to_exitcode(status)
        self._watcher.remove(self._pidfd)
        os.close(self._pidfd)
        self._pidfd = -1
        self._exited(code)

    def _wait_in_thread(self) -> None:
        try:
            _, status = os.waitpid(self.pid, 0)
            code = os.waitstatus_to_exitcode(status)
        except ChildProcessError:
            code = 255
        try:
            self._loop.call_soon_threadsafe(self._exited, code)
        except RuntimeError:  # the loop is closed: nobody is waiting any more
            self._proc.returncode = code

    def _exited(self, code: int) -> None:
        self.returncode = self._proc.returncode = code  # Popen: no "still running" warning
        self._capture.process_exited()
        if not self._pipes:
            self._capture.connection_lost(None)

    def close(self) -> None:
        for read_end in list(self._pipes):
            self._close_pipe(read_end)
        if self.returncode is None:  # its pidfd reader stays, to reap it once it is gone
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGKILL)


class _TransportChild:
    """The fallback: a child started by asyncio (`loop.subprocess_exec`) that feeds `capture`."""

    __slots__ = ("_transport", "pid")

    def __init__(self, transport: asyncio.SubprocessTransport) -> None:
        self._transport = transport
        self.pid = transport.get_pid()

    @property
    def returncode(self) -> int | None:
        return self._transport.get_returncode()

    def close(self) -> None:
        self._transport.close()


async def _start(
    argv: Sequence[str], env: dict[str, str], cwd: str | None, capture: _Capture
) -> _Child:
    loop = asyncio.get_running_loop()
    if PIDFD:
        return _PidfdChild(loop, argv, env, cwd, capture)
    transport, _ = await loop.subprocess_exec(
        lambda: capture,
        *argv,
        stdin=DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        cwd=cwd,
        start_new_session=True,
    )
    return _TransportChild(transport)


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
    capture = _Capture(asyncio.get_running_loop())
    try:
        child = await _start(argv, env, cwd, capture)
    except OSError as exc:
        return ProcessRun(exit_code=None, start_error=_start_error(exc))
    pgid = child.pid  # the leader of a new session: its pid is the group id
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
        child.close()
    return ProcessRun(child.returncode, capture.stdout, capture.stderr, timed_out)


async def terminate_group(pgid: int, grace: float = KILL_GRACE) -> None:
    """SIGTERM the process group, then SIGKILL whatever is still there after `grace` seconds;
    returns once the group is gone (or, should a member be stuck in the kernel, after another
    `grace`)."""
    if not _signal_group(pgid, signal.SIGTERM) or await _gone_within(pgid, grace):
        return
    if _signal_group(pgid, signal.SIGKILL):
        # SIGKILL takes effect when each member next runs; a member that has closed its pipes
        # may still be on its way out, so do not report the group dead before it is.
        await _gone_within(pgid, grace)


async def _gone_within(pgid: int, seconds: float) -> bool:
    """Wait up to `seconds` for the group to have no running member; True once it has none."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    delay = 0.005
    # No event tells us a group is empty, so poll it, backing off from 5 ms to 100 ms.
    while loop.time() < deadline:
        await asyncio.sleep(delay)
        if not await _group_alive(pgid):
            return True
        delay = min(delay * 2, 0.1)
    return False


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
