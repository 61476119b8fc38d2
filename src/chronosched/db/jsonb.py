"""Decoding `jsonb` values the fast way.

Every claimed job carries its payload as `jsonb`. psycopg decodes it with `json.loads`, which
on bytes first sniffs the encoding and then runs two regular expressions around the C scanner:
~2.1 us for a `{"task": "noop"}` payload, about a tenth of a no-op job's whole cost in the
worker. PostgreSQL's `jsonb` output is canonical (UTF-8, no surrounding whitespace), so the C
scanner can be called directly (~0.5 us); anything else (a `json` value with spaces around it,
invalid text) goes through `json.loads`, which gives the same value or the same error.
"""

from __future__ import annotations

import json
import json.scanner
from typing import Any

from psycopg.abc import AdaptContext
from psycopg.types.json import set_json_loads

# typeshed types make_scanner's argument as a scanner; at run time it takes the decoder.
_scan = json.scanner.make_scanner(json.JSONDecoder())  # type: ignore[arg-type]


def loads(data: str | bytes) -> Any:
    """`json.loads` for what PostgreSQL sends (psycopg passes bytes); same values, same errors."""
    text = data if isinstance(data, str) else data.decode()
    try:
        value, end = _scan(text, 0)
    except StopIteration:
        return json.loads(text)  # not a JSON value at position 0: json.loads says why
    if end != len(text):
        return json.loads(text)  # whitespace or more after the value: the full parser decides
    return value


def use_fast_loads(context: AdaptContext) -> None:
    """Decode json/jsonb results of `context` (a connection or cursor) with `loads`."""
    set_json_loads(loads, context)
