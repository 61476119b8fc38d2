"""CLI start-up: a worker loads no web stack, and every command is still registered.

Workers start in numbers next to the jobs they compete with for CPU, so what `chronosched worker`
imports is part of its cost: FastAPI, Starlette, uvicorn and httpx (0.3-0.5 s together) are
loaded only by the commands that use them. Checked in a fresh interpreter, without timing.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import typer
from typer.testing import CliRunner

from chronosched.cli.main import app

WEB_STACK = ("fastapi", "starlette", "uvicorn", "httpx", "pydantic_settings")

# What `python -m chronosched worker` (every kind) imports before it connects: the CLI (with the
# worker's help, which resolves its options), the worker and its executors; then what its first
# `http` job (here one with a bad payload) brings in.
WORKER_START = f"""
import asyncio, contextlib, io, json, sys

from chronosched.cli.main import app
from chronosched.executors import EXECUTOR_KINDS, PayloadError, build_executors
from chronosched.worker import runner, settings
from tests.unit.executor_helpers import make_ctx

with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):
    app(["worker", "--help"])
executors = build_executors(EXECUTOR_KINDS)
loaded = lambda: sorted({{name.split(".")[0] for name in sys.modules}} & set({WEB_STACK!r}))
before = loaded()
with contextlib.suppress(PayloadError):
    asyncio.run(executors["http"].execute({{}}, make_ctx("http"), 1))
print(json.dumps({{"worker": before, "after_http": loaded()}}))
"""

COMMANDS = [
    [],
    ["migrate"],
    ["worker"],
    ["scheduler"],
    ["server"],
    ["up"],
    ["token", "create"],
    ["token", "list"],
    ["token", "revoke"],
    ["dags", "list"],
    ["dags", "show"],
    ["jobs", "list"],
    ["jobs", "show"],
    ["jobs", "logs"],
    ["jobs", "edit"],
    ["jobs", "retry"],
    ["jobs", "cancel"],
    ["defs", "list"],
    ["defs", "show"],
    ["workers"],
]


def _worker_start_modules() -> dict[str, list[str]]:
    out = subprocess.run(
        [sys.executable, "-c", WORKER_START], capture_output=True, text=True, check=True
    )
    result: dict[str, list[str]] = json.loads(out.stdout.splitlines()[-1])
    return result


def test_worker_start__loads_no_web_stack() -> None:
    modules = _worker_start_modules()
    assert modules["worker"] == []
    # The `http` kind still works: httpx comes in with its first job.
    assert modules["after_http"] == ["httpx"]


def test_cli__every_command_is_registered() -> None:
    group = typer.main.get_command(app)
    assert isinstance(group, typer.core.TyperGroup)
    assert sorted(group.commands) == [
        "dags",
        "defs",
        "jobs",
        "migrate",
        "scheduler",
        "server",
        "token",
        "up",
        "worker",
        "workers",
    ]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "chronosched")
def test_cli__help_of_every_command(command: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHRONOSCHED_LOG_FORMAT", "text")  # the app callback exports it
    result = CliRunner().invoke(app, [*command, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.output
