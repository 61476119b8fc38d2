"""Named SQL blocks loaded once from `db/sql/*.sql`.

Each block starts with a `-- name: some_query` line; runtime code refers to queries by name
(`queries.get("claim_jobs")`) so no SQL strings are scattered through the services.
"""

from __future__ import annotations

import functools
import re
from importlib import resources

_NAME_RE = re.compile(r"^--\s*name:\s*([a-z_][a-z0-9_]*)\s*$", re.MULTILINE)


@functools.cache
def all_queries() -> dict[str, str]:
    """Every named query of every `.sql` file, by name (names are unique across files)."""
    found: dict[str, str] = {}
    folder = resources.files("chronosched.db").joinpath("sql")
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if not entry.name.endswith(".sql"):
            continue
        text = entry.read_text(encoding="utf-8")
        matches = list(_NAME_RE.finditer(text))
        for i, match in enumerate(matches):
            end = matches[i + 1].start() if i + 1 < len(matches) else len(text)
            body = text[match.end() : end].strip()
            name = match[1]
            if name in found:
                raise RuntimeError(f"query {name!r} is defined twice (in {entry.name})")
            found[name] = body
    return found


def get(name: str) -> str:
    """The SQL of query `name`; KeyError names the missing query."""
    try:
        return all_queries()[name]
    except KeyError:
        raise KeyError(f"unknown query {name!r}") from None
