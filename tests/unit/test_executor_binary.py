"""`binary` executor: no shell between the payload and the program."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from chronosched.executors import PayloadError, get_executor
from tests.unit.executor_helpers import make_ctx

CTX = make_ctx("binary")
ECHO_ARGV = "import json, sys; print(json.dumps(sys.argv[1:]))"


pytestmark = pytest.mark.usefixtures("spawn_path")  # each test on both spawn paths


async def run(payload: dict[str, Any], limit: float | None = None) -> Any:
    return await get_executor("binary").execute(payload, CTX, limit)


async def test_binary__shell_metacharacters_arrive_literally(tmp_path: Path) -> None:
    victim = tmp_path / "x"
    victim.write_text("still here")
    tricky = ["; rm -rf x", "$(whoami)", "`id`", "*", "'single'", '"double"', "a b", "$HOME", "|"]
    out = await run(
        {"path": sys.executable, "args": ["-c", ECHO_ARGV, *tricky], "cwd": str(tmp_path)}
    )
    assert out.ok, out.stderr
    assert out.result == {"exitCode": 0, "output": tricky}
    assert victim.exists()


async def test_binary__printf_gets_each_argument_unsplit() -> None:
    out = await run({"path": "printf", "args": ["[%s]", "a b", "*", "$(whoami)", 7]})
    assert out.ok
    assert out.result == {"exitCode": 0, "stdout": "[a b][*][$(whoami)][7]"}


async def test_binary__sees_the_job_identity() -> None:
    script = (
        "import os; print(os.environ['CHRONOSCHED_JOB_ID'], os.environ['CHRONOSCHED_DEF_NAME'])"
    )
    out = await run({"path": sys.executable, "args": ["-c", script]})
    assert out.stdout == "42 nightly-export\n"


async def test_binary__nonzero_exit_fails() -> None:
    out = await run({"path": sys.executable, "args": ["-c", "import sys; sys.exit(4)"]})
    assert not out.ok
    assert out.error == "exit code 4"
    assert out.result == {"exitCode": 4, "stdout": ""}


async def test_binary__missing_path_fails_with_a_clear_error() -> None:
    out = await run({"path": "/no/such/program", "args": ["x"]})
    assert not out.ok
    assert out.error == "cannot start process: No such file or directory: '/no/such/program'"
    assert out.exit_code is None
    assert out.result is None


async def test_binary__non_executable_file_fails(tmp_path: Path) -> None:
    script = tmp_path / "script.sh"
    script.write_text("#!/bin/sh\necho hi\n")
    out = await run({"path": str(script)})
    assert not out.ok
    assert out.error is not None
    assert "Permission denied" in out.error


async def test_binary__timeout_kills_the_program() -> None:
    out = await run({"path": "sleep", "args": ["30"], "timeout": 0.2})
    assert not out.ok
    assert out.error == "timed out after 0.2s"
    assert out.exit_code == -15


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({}, "'path'"),
        ({"path": ""}, "'path'"),
        ({"path": "/bin/echo", "args": "a b"}, "args must be a list"),
        ({"path": "/bin/echo", "args": [{"a": 1}]}, r"args\[0\] must be a string"),
        ({"path": "/bin/echo", "args": [True]}, r"args\[0\] must be a string"),
    ],
)
async def test_binary__invalid_payload_raises_payload_error(
    payload: dict[str, Any], message: str
) -> None:
    with pytest.raises(PayloadError, match=message):
        await run(payload)
