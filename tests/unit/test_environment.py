"""The child's environment follows the worker's as it changes, secrets dropped every time."""

from __future__ import annotations

import pytest

from chronosched.executors.environment import job_environ
from tests.unit.executor_helpers import make_ctx

CTX = make_ctx("cmd")


def test_env__changes_to_the_worker_environment_are_seen(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHRONO_TEST_VAR", "one")
    assert job_environ(CTX, {})["CHRONO_TEST_VAR"] == "one"
    monkeypatch.setenv("CHRONO_TEST_VAR", "two")
    assert job_environ(CTX, {})["CHRONO_TEST_VAR"] == "two"
    monkeypatch.delenv("CHRONO_TEST_VAR")
    assert "CHRONO_TEST_VAR" not in job_environ(CTX, {})


def test_env__a_secret_set_later_is_dropped_too(monkeypatch: pytest.MonkeyPatch) -> None:
    job_environ(CTX, {})
    monkeypatch.setenv("LATE_API_TOKEN", "t0k3n")
    monkeypatch.setenv("DATABASE_URL", "postgresql://u:pw@db/x")
    env = job_environ(CTX, {})
    assert "LATE_API_TOKEN" not in env
    assert "DATABASE_URL" not in env


def test_env__each_job_gets_its_own_copy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHRONO_TEST_VAR", "worker")
    first = job_environ(CTX, {"CHRONO_TEST_VAR": "job", "ONLY_FIRST": "1"})
    first["MUTATED"] = "yes"
    second = job_environ(make_ctx("cmd", job_id=43), {})
    assert first["CHRONO_TEST_VAR"] == "job"
    assert second["CHRONO_TEST_VAR"] == "worker"
    assert "ONLY_FIRST" not in second
    assert "MUTATED" not in second
    assert second["CHRONOSCHED_JOB_ID"] == "43"


def test_env__an_explicit_base_is_scrubbed_not_the_worker_environment() -> None:
    env = job_environ(CTX, {}, base={"PATH": "/bin", "SMTP_PASSWORD": "pw"})
    assert env["PATH"] == "/bin"
    assert "SMTP_PASSWORD" not in env
    assert "HOME" not in env
