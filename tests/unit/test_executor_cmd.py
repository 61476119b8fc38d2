"""`cmd` executor against real shells: results, environment, output cap, timeouts, cancel."""

from __future__ import annotations

import asyncio
import json
import shlex
import sys
import tracemalloc
from pathlib import Path
from typing import Any

import pytest

from chronosched.executors import PayloadError, get_executor
from chronosched.executors.environment import is_secret
from tests.unit.executor_helpers import group_running, is_running, make_ctx, wait_for_pids

CTX = make_ctx("cmd")
PRINT_ENV = (
    f"{shlex.quote(sys.executable)} -c 'import json, os; print(json.dumps(dict(os.environ)))'"
)


pytestmark = pytest.mark.usefixtures("spawn_path")  # each test on both spawn paths


async def run(payload: dict[str, Any], limit: float | None = None) -> Any:
    return await get_executor("cmd").execute(payload, CTX, limit)


async def test_cmd__json_stdout_is_parsed_into_output() -> None:
    out = await run({"cmd": """echo '{"rows": 3}'; echo note >&2"""})
    assert out.ok
    assert out.error is None
    assert out.exit_code == 0
    assert out.result == {"exitCode": 0, "output": {"rows": 3}}
    assert out.stderr == "note\n"


async def test_cmd__text_stdout_is_kept_as_stdout() -> None:
    out = await run({"cmd": "echo hello; echo world"})
    assert out.ok
    assert out.result == {"exitCode": 0, "stdout": "hello\nworld\n"}
    assert out.stdout == "hello\nworld\n"


async def test_cmd__nan_is_not_json() -> None:
    out = await run({"cmd": "echo NaN"})
    assert out.result == {"exitCode": 0, "stdout": "NaN\n"}


async def test_cmd__nonzero_exit_fails_with_code_and_stderr() -> None:
    out = await run({"cmd": "echo partial; echo 'it broke' >&2; exit 3"})
    assert not out.ok
    assert out.error == "exit code 3"
    assert out.exit_code == 3
    assert out.result == {"exitCode": 3, "stdout": "partial\n"}
    assert out.stderr == "it broke\n"


async def test_cmd__killed_by_signal_is_named() -> None:
    out = await run({"cmd": "kill -9 $$"})
    assert not out.ok
    assert out.error == "killed by signal SIGKILL"
    assert out.exit_code == -9


async def test_cmd__env_has_identity_but_not_worker_secrets(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://u:pw@db/x")
    monkeypatch.setenv("CHRONOSCHED_TOKEN", "t0k3n")
    monkeypatch.setenv("CHRONOSCHED_LEASE_SECONDS", "30")
    monkeypatch.setenv("PGPASSWORD", "pw")
    monkeypatch.setenv("GITHUB_TOKEN", "gh")
    monkeypatch.setenv("aws_secret_access_key", "aws")
    monkeypatch.setenv("KEEP_ME", "yes")
    out = await run({"cmd": PRINT_ENV, "env": {"EXTRA": "1", "N": 5}})
    assert out.ok, out.stderr
    env = out.result["output"]
    for secret in ("DATABASE_URL", "CHRONOSCHED_TOKEN", "CHRONOSCHED_LEASE_SECONDS", "PGPASSWORD"):
        assert secret not in env
    assert "GITHUB_TOKEN" not in env
    assert "aws_secret_access_key" not in env
    assert env["KEEP_ME"] == "yes"
    assert env["EXTRA"] == "1"
    assert env["N"] == "5"
    assert env["CHRONOSCHED_JOB_ID"] == "42"
    assert env["CHRONOSCHED_ATTEMPT"] == "2"
    assert env["CHRONOSCHED_DAG_ID"] == "7"
    assert env["CHRONOSCHED_DEF_NAME"] == "nightly-export"
    assert env["CHRONOSCHED_SCHEDULED_FOR"] == "2024-05-01T03:00:00+00:00"
    assert json.loads(env["CHRONOSCHED_PARENT_RESULTS"]) == {
        "41": {"name": "extract", "result": {"output": {"rows": [1, 2]}}}
    }


async def test_cmd__identity_of_an_adhoc_job_is_empty_strings() -> None:
    ctx = make_ctx("cmd", dag_id=None, scheduled_for=None, parent_results={})
    out = await get_executor("cmd").execute({"cmd": PRINT_ENV}, ctx, None)
    env = out.result["output"]
    assert env["CHRONOSCHED_DAG_ID"] == ""
    assert env["CHRONOSCHED_SCHEDULED_FOR"] == ""
    assert env["CHRONOSCHED_PARENT_RESULTS"] == "{}"


@pytest.mark.parametrize(
    ("name", "secret"),
    [
        ("DATABASE_URL", True),
        ("PGPASSWORD", True),
        ("CHRONOSCHED_API_TOKEN", True),
        ("chronosched_database_url", True),
        ("MY_SECRET_KEY", True),
        ("SMTP_PASSWORD", True),
        ("id_token", True),
        ("PATH", False),
        ("HOME", False),
        ("PGHOST", False),
    ],
)
def test_env__secret_names(name: str, secret: bool) -> None:
    assert is_secret(name) is secret


async def test_cmd__runs_in_cwd(tmp_path: Path) -> None:
    out = await run({"cmd": "pwd", "cwd": str(tmp_path)})
    assert out.stdout.strip() == str(tmp_path.resolve())  # noqa: ASYNC240 -- instant, test only


async def test_cmd__missing_cwd_fails_without_running() -> None:
    out = await run({"cmd": "true", "cwd": "/no/such/dir"})
    assert not out.ok
    assert out.error is not None
    assert "/no/such/dir" in out.error
    assert out.result is None


async def test_cmd__output_keeps_last_64k_without_buffering_it_all() -> None:
    tracemalloc.start()
    try:
        out = await run(
            {"cmd": "yes 0123456789 | head -c 8000000; echo END; yes e | head -c 3000000 >&2"}
        )
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert out.ok
    assert len(out.stdout) == 64 * 1024
    assert out.stdout.endswith("END\n")
    assert set(out.stdout[:-4]) <= set("0123456789\n")
    assert out.result == {"exitCode": 0, "stdout": out.stdout}
    assert len(out.stderr) == 64 * 1024
    assert peak < 4 * 1024 * 1024, f"peak traced memory {peak} bytes for 11 MB of output"


async def test_cmd__json_larger_than_64k_still_parses() -> None:
    script = "import json; print(json.dumps(list(range(40000))))"  # ~230 KB of JSON
    out = await run({"cmd": f"{shlex.quote(sys.executable)} -c {shlex.quote(script)}"})
    assert out.result["output"] == list(range(40000))
    assert len(out.stdout) == 64 * 1024


async def test_cmd__timeout_kills_the_whole_process_group() -> None:
    out = await run({"cmd": "sleep 30 & echo $$ $!; sleep 30", "timeout": 0.3}, limit=60)
    assert not out.ok
    assert out.error == "timed out after 0.3s"
    shell, grandchild = (int(word) for word in out.stdout.split())
    assert not is_running(grandchild)
    assert group_running(shell) == []


async def test_cmd__argument_timeout_applies_and_payload_overrides_it() -> None:
    out = await run({"cmd": "sleep 5"}, limit=0.2)
    assert out.error == "timed out after 0.2s"
    out = await run({"cmd": "sleep 0.3", "timeout": 5}, limit=0.1)
    assert out.ok


async def test_cmd__cancel_kills_the_whole_process_group(tmp_path: Path) -> None:
    pidfile = tmp_path / "pids"
    job = asyncio.ensure_future(run({"cmd": f"sleep 30 & echo $$ $! > {pidfile}; sleep 30"}))
    shell, grandchild = await wait_for_pids(pidfile, 2)
    job.cancel()
    with pytest.raises(asyncio.CancelledError):
        await job
    assert not is_running(shell)
    assert not is_running(grandchild)
    assert group_running(shell) == []


async def test_cmd__background_leftovers_are_killed_when_the_job_exits(tmp_path: Path) -> None:
    out = await run({"cmd": "sleep 30 >/dev/null 2>&1 & echo $$ $!"})
    assert out.ok
    shell, leftover = (int(word) for word in out.stdout.split())
    assert not is_running(leftover)
    assert group_running(shell) == []


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({}, "'cmd'"),
        ({"cmd": ""}, "'cmd'"),
        ({"cmd": ["ls"]}, "cmd must be a string"),
        ({"cmd": "true", "timeout": "soon"}, "timeout"),
        ({"cmd": "true", "timeout": 0}, "timeout"),
        ({"cmd": "true", "env": ["A=1"]}, "env must be an object"),
        ({"cmd": "true", "env": {"A": None}}, "env['A']"),
        ({"cmd": "true", "env": {"A": "a\x00b"}}, "NUL"),
    ],
)
async def test_cmd__invalid_payload_raises_payload_error(
    payload: dict[str, Any], message: str
) -> None:
    with pytest.raises(PayloadError, match=message.replace("[", r"\[").replace("(", r"\(")):
        await run(payload)


async def test_cmd__sigterm_ignored_means_sigkill_after_the_grace() -> None:
    executor = get_executor("cmd", kill_grace=0.2)
    out = await executor.execute(
        {"cmd": "trap '' TERM; sleep 30 & echo $$ $!; wait", "timeout": 0.2}, CTX, None
    )
    assert out.error == "timed out after 0.2s"
    assert out.exit_code == -9
    shell, grandchild = (int(word) for word in out.stdout.split())
    assert not is_running(grandchild)
    assert group_running(shell) == []
