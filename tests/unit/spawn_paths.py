"""The two ways `process.run_process` watches a child, for tests to run on both (`PIDFD`)."""

from __future__ import annotations

import pytest

from chronosched.executors import process

SPAWN_PATHS = [
    pytest.param(
        True,
        id="pidfd",
        marks=pytest.mark.skipif(not process.pidfd_usable(), reason="no pidfd_open here"),
    ),
    pytest.param(False, id="asyncio"),
]


def use_spawn_path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> bool:
    """Make `run_process` start children the way the test is parametrized with."""
    pidfd: bool = request.param
    monkeypatch.setattr(process, "PIDFD", pidfd)
    return pidfd
