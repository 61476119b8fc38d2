"""The `@chronosched.task` registry: Python functions that `python` jobs call by name.

    @chronosched.task
    def resize(path: str, width: int) -> dict[str, int]: ...

    @chronosched.task(name="reports.daily")
    async def daily(day: str, ctx: JobContext) -> None: ...

A worker imports the modules that define tasks (`load_task_modules(["mypkg.tasks"])`) so that
their decorators run. Everything a call needs (sync or async, whether it takes `ctx`) is worked
out once here, at registration, because the `python` kind is the hot path of the throughput
benchmark.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, TypeVar, overload

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True, slots=True)
class TaskSpec:
    name: str
    fn: Callable[..., Any]
    is_async: bool
    wants_ctx: bool  # the signature has a parameter called `ctx`: pass the JobContext there

    @property
    def qualname(self) -> str:
        return f"{self.fn.__module__}.{self.fn.__qualname__}"


_registry: dict[str, TaskSpec] = {}
registry: Mapping[str, TaskSpec] = MappingProxyType(_registry)  # read-only view for UI/worker


@overload
def task(fn: F, /) -> F: ...
@overload
def task(*, name: str | None = None) -> Callable[[F], F]: ...
def task(fn: F | None = None, /, *, name: str | None = None) -> F | Callable[[F], F]:
    """Register `fn` under `name` (default: the function's `__name__`); returns `fn` unchanged."""
    if fn is not None:
        register(fn, name)
        return fn

    def decorator(func: F) -> F:
        register(func, name)
        return func

    return decorator


def register(fn: Callable[..., Any], name: str | None = None) -> TaskSpec:
    """Add `fn` to the registry. A name already taken by a different function is an error."""
    if not callable(fn):
        raise TypeError(f"@task needs a function, got {fn!r}")
    task_name = name if name is not None else getattr(fn, "__name__", "")
    if not task_name:
        raise ValueError("a task needs a name: pass @task(name=...)")
    spec = TaskSpec(
        name=task_name,
        fn=fn,
        is_async=inspect.iscoroutinefunction(fn),
        wants_ctx="ctx" in inspect.signature(fn).parameters,
    )
    existing = _registry.get(task_name)
    # Re-registering the same function (its module imported again, e.g. reloaded) is harmless.
    if existing is not None and existing.qualname != spec.qualname:
        raise ValueError(
            f"task name {task_name!r} is already used by {existing.qualname}; "
            f"cannot register {spec.qualname}"
        )
    _registry[task_name] = spec
    return spec


def get_task(name: str) -> TaskSpec:
    """The task registered as `name`; KeyError with the known names when there is none."""
    try:
        return _registry[name]
    except KeyError:
        known = ", ".join(sorted(_registry)[:20]) or "none"
        raise KeyError(f"no task named {name!r} (registered: {known})") from None


def unregister(name: str) -> None:
    """Remove a task (tests and hot reload); unknown names are ignored."""
    _registry.pop(name, None)


def load_task_modules(modules: Iterable[str]) -> list[str]:
    """Import each module so its `@task` decorators run; returns the task names now registered."""
    for module in modules:
        importlib.import_module(module)
    return sorted(_registry)
