"""`render_payload`: placeholder table, escapes, type preservation and errors."""

from __future__ import annotations

import re
from typing import Any

import pytest

from chronosched.executors import PayloadError, render_payload
from tests.unit.executor_helpers import make_ctx

PARENTS = {
    "41": {"name": "extract", "result": {"output": {"rows": [10, 20], "table": "t"}}},
    "43": {"name": "count", "result": 7},
    "44": {"name": "twin", "result": 1},
    "45": {"name": "twin", "result": 2},
}
CTX = make_ctx("cmd", parent_results=PARENTS)
ADHOC = make_ctx("cmd", dag_id=None, scheduled_for=None, parent_results={})


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("${job.id}", 42),
        ("${job.attempt}", 2),
        ("${job.maxAttempts}", 3),
        ("${job.dagId}", "7"),
        ("${job.defName}", "nightly-export"),
        ("${job.kind}", "cmd"),
        ("${job.scheduledFor}", "2024-05-01T03:00:00+00:00"),
        ("${ job.id }", 42),
        ("${parents.extract.output.rows}", [10, 20]),
        ("${parents.41.output.rows}", [10, 20]),
        ("${parents.extract.output.rows.1}", 20),
        ("${parents.extract}", {"output": {"rows": [10, 20], "table": "t"}}),
        ("${parents.count}", 7),
        ("${parents.44}", 1),
        ("id=${job.id}", "id=42"),
        (
            "rows ${parents.extract.output.rows} in ${parents.extract.output.table}",
            "rows [10, 20] in t",
        ),
        ("${job.id}-${job.attempt}", "42-2"),
        ("$${job.id}", "${job.id}"),
        ("cost: $${x} and ${job.id}", "cost: ${x} and 42"),
        ("plain $ and {braces}", "plain $ and {braces}"),
        (7, 7),
        (None, None),
    ],
)
def test_render__placeholders(template: Any, expected: Any) -> None:
    assert render_payload(template, CTX) == expected


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("${job.dagId}", None),
        ("${job.scheduledFor}", None),
        ("dag=${job.dagId}", "dag=null"),
    ],
)
def test_render__adhoc_job_has_null_dag_and_slot(template: str, expected: Any) -> None:
    assert render_payload(template, ADHOC) == expected


def test_render__recurses_through_dicts_and_lists_keeping_keys() -> None:
    template = {
        "cmd": "export --job ${job.id}",
        "args": ["${parents.count}", "literal", {"deep": "${parents.extract.output.table}"}],
        "${job.id}": "keys are not templates",
        "timeout": 5,
    }
    assert render_payload(template, CTX) == {
        "cmd": "export --job 42",
        "args": [7, "literal", {"deep": "t"}],
        "${job.id}": "keys are not templates",
        "timeout": 5,
    }


def test_render__no_placeholder_returns_the_same_object() -> None:
    template = {"cmd": "echo hi", "env": {"A": "1"}, "args": [1, "x"], "price": "$5 {x}"}
    assert render_payload(template, CTX) is template


def test_render__only_changed_branches_are_copied() -> None:
    untouched = {"a": ["x"]}
    template = {"keep": untouched, "change": "${job.id}"}
    rendered = render_payload(template, CTX)
    assert rendered == {"keep": {"a": ["x"]}, "change": 42}
    assert rendered["keep"] is untouched
    assert template["change"] == "${job.id}"  # the template itself is not modified


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("${job.nope}", "unknown placeholder ${job.nope}"),
        ("${env.HOME}", "unknown placeholder ${env.HOME}"),
        ("${}", "unknown placeholder ${}"),
        ("x ${parents.missing.rows}", "no parent 'missing'"),
        ("${parents.extract.output.nope}", "no 'nope' in the parent's result"),
        ("${parents.extract.output.rows.5}", "no '5' in the parent's result"),
        ("${parents.twin}", "several parents are named 'twin'"),
        ("open ${job.id", "unterminated placeholder"),
    ],
)
def test_render__errors_name_the_placeholder(template: str, message: str) -> None:
    with pytest.raises(PayloadError, match=re.escape(message)):
        render_payload({"cmd": [template]}, CTX)
