"""Unit-test fixtures shared by the executor tests."""

from __future__ import annotations

import pytest

from chronosched.executors import process


@pytest.fixture(
    params=[
        pytest.param(
            True,
            id="pidfd",
            marks=pytest.mark.skipif(not process.pidfd_usable(), reason="no pidfd_open here"),
        ),
        pytest.param(False, id="asyncio"),
    ]
)
def spawn_path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> bool:
    """Run the test on each way `process.run_process` watches a child (`process.PIDFD`): a
    module opts in with `pytestmark = pytest.mark.usefixtures("spawn_path")`."""
    pidfd: bool = request.param
    monkeypatch.setattr(process, "PIDFD", pidfd)
    return pidfd
