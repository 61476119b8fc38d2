"""Domain errors. The API maps each type to one HTTP problem status in one place."""

from __future__ import annotations


class ChronoschedError(Exception):
    """Base class; `detail` is a readable sentence for the client."""

    status = 500
    title = "Internal error"
    index: int | None = None  # position of the offending item in a bulk request, when known

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class NotFound(ChronoschedError):
    status = 404
    title = "Not found"


class Conflict(ChronoschedError):
    """The request clashes with the current state (wrong job status, duplicate version…)."""

    status = 409
    title = "Conflict"


class CycleError(Conflict):
    """An edge (or a batch of edges) would close a cycle; `cycle` lists the job ids in order."""

    title = "Dependency cycle"

    def __init__(self, cycle: list[int] | list[str], detail: str | None = None) -> None:
        path = " -> ".join(str(n) for n in [*cycle, cycle[0]]) if cycle else ""
        super().__init__(detail or f"the dependencies would close a cycle: {path}")
        self.cycle = cycle


class Invalid(ChronoschedError):
    """A value is well-formed JSON but not acceptable (bad cron spec, interval, reference…)."""

    status = 422
    title = "Invalid value"

    def __init__(self, detail: str, *, index: int | None = None) -> None:
        super().__init__(detail if index is None else f"item {index}: {detail}")
        self.index = index
