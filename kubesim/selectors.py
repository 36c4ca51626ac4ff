"""Label and field selectors with the API server's syntax."""

from __future__ import annotations

import re
from collections.abc import Callable

from kubesim.snapshot import Entry

Pred = Callable[[Entry], bool]


LabelTest = Callable[[dict[str, str]], bool]


class SelectorError(ValueError):
    pass


def _eq(key: str, value: str, negate: bool) -> LabelTest:
    return lambda labels: (labels.get(key) == value) != negate


def _in(key: str, values: set[str], negate: bool) -> LabelTest:
    return lambda labels: (labels.get(key) in values) != negate


def _exists(key: str, negate: bool) -> LabelTest:
    return lambda labels: (key in labels) != negate


def _field(get: Callable[[Entry], str], value: str, negate: bool) -> Pred:
    return lambda e: (get(e) == value) != negate


_SET = re.compile(r"^\s*(!?)([A-Za-z0-9_./-]+)\s*(?:(in|notin)\s*\(([^)]*)\))?\s*$")
_EQ = re.compile(r"^\s*([A-Za-z0-9_./-]+)\s*(==|=|!=)\s*([A-Za-z0-9_.-]*)\s*$")


def _split(expr: str) -> list[str]:
    """Split on commas that are not inside parentheses."""
    parts, depth, cur = [], 0, ""
    for ch in expr:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    if cur.strip():
        parts.append(cur)
    return parts


def label_selector(expr: str) -> Pred | None:
    """Parse `a=b,c!=d,e in (x,y),f notin (z),g,!h`."""
    if not expr or not expr.strip():
        return None
    tests: list[LabelTest] = []
    for part in _split(expr):
        if m := _EQ.match(part):
            key, op, val = m.groups()
            tests.append(_eq(key, val, op == "!="))
        elif m := _SET.match(part):
            neg, key, op, vals = m.groups()
            if op:
                values = {v.strip() for v in vals.split(",") if v.strip()}
                tests.append(_in(key, values, op == "notin"))
            else:
                tests.append(_exists(key, bool(neg)))
        else:
            raise SelectorError(f"unable to parse requirement: {part!r}")
    return lambda e: all(t(e.labels) for t in tests)


FIELDS: dict[str, Callable[[Entry], str]] = {
    "metadata.name": lambda e: e.name,
    "metadata.namespace": lambda e: e.namespace or "",
    "status.phase": lambda e: e.phase or "",
}


def field_selector(expr: str) -> Pred | None:
    """Parse `metadata.name=x,status.phase!=Succeeded`.

    Supported fields: metadata.name, metadata.namespace, status.phase.
    """
    if not expr or not expr.strip():
        return None
    tests: list[Pred] = []
    for part in _split(expr):
        m = _EQ.match(part)
        if not m or m.group(1) not in FIELDS:
            raise SelectorError(f'field label not supported: "{part.split("=")[0].strip("!")}"')
        key, op, val = m.groups()
        tests.append(_field(FIELDS[key], val, op == "!="))
    return lambda e: all(t(e) for t in tests)
