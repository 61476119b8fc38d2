"""Property-based fuzzing of the API with schemathesis against its own OpenAPI document.

Every generated request (valid and invalid) must get a non-5xx answer whose status, content type
and body match what the schema documents. Runs against a real `chronosched server` on a database
seeded with a few objects, so ids in paths sometimes exist. Bounded: a few examples per operation.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import httpx
import psycopg
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from psycopg import sql
from psycopg.conninfo import make_conninfo
from schemathesis.checks import not_a_server_error
from schemathesis.generation.modes import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.integration.api_support import serve

EXAMPLES = 15  # per operation and mode; ~70 operations take about 30 s in all
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@pytest.fixture(scope="module")
def fuzz_db(pg_admin_url: str, template_db: str) -> Iterator[str]:
    """One database for the whole module (a server per operation would be too slow)."""
    name = f"chronosched_fuzz_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(pg_admin_url, autocommit=True) as conn:
        conn.execute(
            sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                sql.Identifier(name), sql.Identifier(template_db)
            )
        )
    yield make_conninfo(pg_admin_url, dbname=name)
    with psycopg.connect(pg_admin_url, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


@pytest.fixture(scope="module")
def base_url(fuzz_db: str) -> Iterator[str]:
    with serve(fuzz_db) as base:
        api = f"{base}/api/v1"
        d = httpx.post(f"{api}/definitions", json={"name": "Seed", "kind": "cmd"}).json()
        httpx.post(
            f"{api}/dags",
            json={
                "name": "seed",
                "jobs": [{"key": "a", "defId": d["id"]}, {"key": "b", "defId": d["id"]}],
                "dependencies": [{"parent": "a", "child": "b"}],
            },
        )
        yield base


def test_api_fuzz__no_server_errors_and_responses_match_schema(base_url: str) -> None:
    schema = schemathesis.openapi.from_url(f"{base_url}/openapi.json")
    failures: list[str] = []
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1

        @given(case=st.one_of(operation.as_strategy(mode) for mode in GenerationMode))
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
        def run(case: schemathesis.Case) -> None:
            case.call_and_validate(base_url=base_url, checks=CHECKS)

        try:
            run()
        except Exception as exc:  # collect every operation's failure, then report them all
            failures.append(f"{operation.label}: {exc}")
    assert operations > 50
    assert not failures, "\n\n".join(failures)
