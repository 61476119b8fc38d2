"""Fill `${...}` placeholders in a job's payload from its identity and its parents' results.

Placeholders (inside any string value of the payload, at any depth; object keys are left alone):

| placeholder | value |
|---|---|
| `${job.id}`, `${job.attempt}`, `${job.maxAttempts}` | integers |
| `${job.dagId}`, `${job.defName}`, `${job.kind}` | strings (`dagId` is null outside a DAG) |
| `${job.scheduledFor}` | ISO 8601 string of the cron slot, or null |
| `${parents.<name or jobId>}` | a parent's whole result |
| `${parents.<name or jobId>.<path>}` | a dotted path into it; numbers index lists (`rows.0.id`) |

A string that is exactly one placeholder becomes the value itself, type kept
(`"${parents.extract.output.rows}"` -> a list). Inside a longer string the value is inserted as
text: strings as they are, anything else as JSON. `$${` writes a literal `${`. Unknown
placeholders, missing paths and a parent name shared by two parents raise PayloadError.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from typing import Any

from chronosched.executors.base import JobContext, PayloadError

_WHOLE = re.compile(r"\$\{([^}]*)\}")
_TOKEN = re.compile(r"\$\$\{|\$\{([^}]*)\}|\$\{")

_JOB_FIELDS: dict[str, Callable[[JobContext], Any]] = {
    "id": lambda ctx: ctx.job_id,
    "attempt": lambda ctx: ctx.attempt,
    "maxAttempts": lambda ctx: ctx.max_attempts,
    "dagId": lambda ctx: ctx.dag_id,
    "defName": lambda ctx: ctx.def_name,
    "kind": lambda ctx: ctx.kind,
    "scheduledFor": lambda ctx: ctx.scheduled_for.isoformat() if ctx.scheduled_for else None,
}


def render_payload(template: Any, ctx: JobContext) -> Any:
    """The payload with placeholders filled; `template` itself (no copy) when it has none."""
    if not _may_contain_placeholder(template):
        return template
    return _render(template, ctx)


_SMALL = 8  # containers up to this size are walked: cheaper than serialising them


def _may_contain_placeholder(value: Any) -> bool:
    # Small containers (the common payload, e.g. {"task": ..., "args": {...}}) are walked; for
    # large ones json.dumps runs in C and beats a Python walk. `$` only occurs inside JSON
    # strings and `{` is never escaped, so "${" in the dump means "${" in a string. Keys are
    # never rendered, so only values are looked at.
    if isinstance(value, str):
        return "${" in value
    if not isinstance(value, dict | list):
        return False
    if len(value) <= _SMALL:  # a plain loop: `any(<generator>)` cost twice as much per job
        for item in value.values() if isinstance(value, dict) else value:
            if isinstance(item, str):
                if "${" in item:
                    return True
            elif isinstance(item, dict | list) and _may_contain_placeholder(item):
                return True
        return False
    try:
        return "${" in json.dumps(value, check_circular=False)
    except (TypeError, ValueError):  # not plain JSON: let the walk decide
        return True


def _render(value: Any, ctx: JobContext) -> Any:
    """Copy-on-write walk: containers are copied only where something changed."""
    if isinstance(value, str):
        return _render_str(value, ctx) if "${" in value else value
    if isinstance(value, dict):
        changed: dict[Any, Any] | None = None
        for key, item in value.items():
            new = _render(item, ctx)
            if new is not item:
                changed = changed if changed is not None else dict(value)
                changed[key] = new
        return value if changed is None else changed
    if isinstance(value, list):
        new_items = [_render(item, ctx) for item in value]
        unchanged = all(new is old for new, old in zip(new_items, value, strict=True))
        return value if unchanged else new_items
    return value


def _render_str(text: str, ctx: JobContext) -> Any:
    whole = _WHOLE.fullmatch(text)
    if whole:
        return resolve(whole.group(1), ctx)

    def replace(match: re.Match[str]) -> str:
        token = match.group(0)
        if token == "$${":
            return "${"
        if match.group(1) is None:
            raise PayloadError(f"unterminated placeholder in {text!r}")
        found = resolve(match.group(1), ctx)
        return found if isinstance(found, str) else json.dumps(found, ensure_ascii=False)

    return _TOKEN.sub(replace, text)


def resolve(expression: str, ctx: JobContext) -> Any:
    """The value of one placeholder expression, e.g. `job.id` or `parents.extract.output`."""
    parts = expression.strip().split(".")
    if parts[0] == "job" and len(parts) == 2 and parts[1] in _JOB_FIELDS:
        return _JOB_FIELDS[parts[1]](ctx)
    if parts[0] == "parents" and len(parts) >= 2 and parts[1]:
        value = _parent_result(parts[1], expression, ctx.parent_results)
        return _follow(value, parts[2:], expression)
    raise PayloadError(f"unknown placeholder ${{{expression}}}")


def _parent_result(key: str, expression: str, parents: Mapping[str, Any]) -> Any:
    entry = parents.get(key)
    if entry is None:
        named = [candidate for candidate in parents.values() if candidate.get("name") == key]
        if len(named) > 1:
            raise PayloadError(
                f"placeholder ${{{expression}}}: several parents are named {key!r}; use a job id"
            )
        if not named:
            known = ", ".join(f"{k} ({v.get('name')})" for k, v in parents.items()) or "none"
            raise PayloadError(
                f"placeholder ${{{expression}}}: no parent {key!r} (parents: {known})"
            )
        entry = named[0]
    return entry.get("result")


def _follow(value: Any, path: list[str], expression: str) -> Any:
    for step in path:
        if isinstance(value, dict) and step in value:
            value = value[step]
        elif (
            isinstance(value, list)
            and step.lstrip("-").isdigit()
            and -len(value) <= int(step) < len(value)
        ):
            value = value[int(step)]
        else:
            raise PayloadError(f"placeholder ${{{expression}}}: no {step!r} in the parent's result")
    return value
