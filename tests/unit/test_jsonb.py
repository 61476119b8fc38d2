"""The fast jsonb decoder gives exactly what json.loads gives, for every kind of value."""

from __future__ import annotations

import json

import pytest

from chronosched.db import jsonb

VALUES = [
    b'{"task": "noop"}',
    b'{"a": {"b": [1, 2.5, -3e-7, true, false, null]}, "s": "caf\\u00e9 \xe2\x9c\x93"}',
    b"123456789012345678901234567890",  # stays an exact int
    b"1e400",  # json.loads gives inf
    b'"just a string"',
    b"[]",
    b"NaN",
    b'{"a": 1} ',  # the `json` type keeps whitespace: the full parser handles it
    b' {"a": 1}',
]


@pytest.mark.parametrize("raw", VALUES)
def test_loads__same_value_as_json_loads(raw: bytes) -> None:
    assert repr(jsonb.loads(raw)) == repr(json.loads(raw))
    assert repr(jsonb.loads(raw.decode())) == repr(json.loads(raw))


@pytest.mark.parametrize("raw", [b"", b"{", b'{"a": 1} x', b"nope"])
def test_loads__invalid_text_raises_json_loads_error(raw: bytes) -> None:
    with pytest.raises(json.JSONDecodeError):
        jsonb.loads(raw)
