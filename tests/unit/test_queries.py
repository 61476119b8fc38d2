"""Every named query used in the code exists, and none is left unused."""

from __future__ import annotations

import re
from pathlib import Path

from chronosched.db import queries

SRC = Path(__file__).resolve().parents[2] / "src" / "chronosched"
_USE = re.compile(r"""queries\.get\(\s*["']([a-z0-9_]+)["']""")


def _used_names() -> set[str]:
    return {m for path in SRC.rglob("*.py") for m in _USE.findall(path.read_text())}


def test_queries__every_used_name_exists() -> None:
    assert _used_names() - set(queries.all_queries()) == set()


def test_queries__none_unused() -> None:
    assert set(queries.all_queries()) - _used_names() == set()


def test_queries__bodies_are_not_empty() -> None:
    assert all(body.strip() for body in queries.all_queries().values())
