"""Start a coroutine at once and make a task only if it has to wait.

A claimed job's coroutine is stepped right where the claim returned, in a context of its own,
as an asyncio task's first step would be. A job that finishes without waiting (a no-op or
CPU-only `python` task, a payload error) never becomes a task: no Task object, no callback
round through the event loop, and its handler starts the moment its claim returns. A job that
waits is handed to a task that continues it where it stopped. Python 3.12 calls this an eager
task (`eager_start`); this does the same on 3.11.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Coroutine, Generator
from typing import Any


def start(coro: Coroutine[Any, Any, None], *, name: str | None = None) -> asyncio.Task[None] | None:
    """Run `coro` until it first waits; None when it already finished, else its task.

    An exception raised by the first step propagates to the caller, as an awaited coroutine's
    would; later ones end up in the task, as usual.
    """
    context = contextvars.copy_context()
    try:
        first = context.run(coro.send, None)
    except StopIteration:
        return None
    loop = asyncio.get_running_loop()
    return loop.create_task(_Resumed(coro, first), name=name, context=context)


class _Resumed(Coroutine[Any, Any, None]):
    """The rest of a coroutine that was stepped once outside a task, as a coroutine a task can
    drive: its first send returns what the first step yielded, everything after goes straight
    through. A task cancelled before its first step throws into `throw`, so the job's coroutine
    gets the CancelledError where it waits (and kills its process group), as with a plain task.
    """

    __slots__ = ("_coro", "_first", "_started")

    def __init__(self, coro: Coroutine[Any, Any, None], first: Any) -> None:
        self._coro = coro
        self._first = first
        self._started = False

    def send(self, value: Any) -> Any:
        if not self._started:
            self._started = True
            first, self._first = self._first, None
            return first
        return self._coro.send(value)

    def throw(self, *args: Any) -> Any:
        self._started = True
        self._first = None
        return self._coro.throw(*args)

    def close(self) -> None:
        self._coro.close()

    def __await__(self) -> Generator[Any, Any, None]:  # pragma: no cover - only tasks drive it
        raise TypeError("an eagerly started job is driven by its task, not awaited")
