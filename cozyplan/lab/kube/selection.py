"""Label selectors (``a=b,c!=d,e in (x,y),!f``) and field selectors (``metadata.name=x``)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from cozyplan.lab.kube.errors import bad_request

Matcher = Callable[[dict[str, Any]], bool]
_SET_RE = re.compile(r"^\s*(!?)([A-Za-z0-9_./-]+)\s+(in|notin)\s+\(([^)]*)\)\s*$")
_EQ_RE = re.compile(r"^\s*([A-Za-z0-9_./-]+)\s*(==|=|!=)\s*([A-Za-z0-9_.-]*)\s*$")
_EXISTS_RE = re.compile(r"^\s*(!?)([A-Za-z0-9_./-]+)\s*$")


def _split(selector: str) -> list[str]:
    parts, depth, cur = [], 0, ""
    for ch in selector:
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


LabelTest = Callable[[dict[str, str]], bool]


def _in(key: str, values: set[str], want: bool) -> LabelTest:
    return lambda labels: (labels.get(key) in values) == want


def _eq(key: str, value: str, want: bool) -> LabelTest:
    return lambda labels: (labels.get(key) == value) == want


def _exists(key: str, want: bool) -> LabelTest:
    return lambda labels: (key in labels) == want


def label_matcher(selector: str) -> Matcher:
    tests: list[LabelTest] = []
    for part in _split(selector):
        if m := _SET_RE.match(part):
            values = {v.strip() for v in m.group(4).split(",") if v.strip()}
            tests.append(_in(m.group(2), values, m.group(3) == "in"))
        elif m := _EQ_RE.match(part):
            key, op, value = m.groups()
            tests.append(_eq(key, value, op != "!="))
        elif m := _EXISTS_RE.match(part):
            neg, key = m.groups()
            tests.append(_exists(key, not neg))
        else:
            raise bad_request(
                f"unable to parse requirement: found '{part.strip()}', expected: "
                "in, notin, =, ==, !=, gt, lt"
            )

    def match(obj: dict[str, Any]) -> bool:
        labels = (obj.get("metadata") or {}).get("labels") or {}
        return all(t(labels) for t in tests)

    return match


def match_labels(selector: dict[str, Any] | None, labels: dict[str, str]) -> bool:
    """A ``metav1.LabelSelector`` (matchLabels + matchExpressions) against labels."""
    if not selector:
        return False
    for k, v in (selector.get("matchLabels") or {}).items():
        if labels.get(k) != v:
            return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr.get("key"), expr.get("operator"), expr.get("values") or []
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and labels.get(key) in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True


def _lookup(obj: dict[str, Any], dotted: str) -> str:
    node: Any = obj
    for part in dotted.split("."):
        node = node.get(part) if isinstance(node, dict) else None
    if node is None:
        return ""
    if isinstance(node, bool):
        return "true" if node else "false"
    return str(node)


def field_matcher(selector: str, supported: set[str], custom: bool) -> Matcher:
    tests: list[tuple[str, str, str]] = []
    for part in _split(selector):
        m = re.match(r"^\s*([A-Za-z0-9_.]+)\s*(==|=|!=)\s*(.*?)\s*$", part)
        if not m:
            raise bad_request(f"invalid selector: '{selector}'; can't understand '{part}'")
        key, op, value = m.groups()
        if key not in supported:
            if custom:
                known = ", ".join(f'"{k}"' for k in sorted(supported))
                raise bad_request(f'"{key}" is not a known field selector: only {known}')
            raise bad_request(f"field label not supported: {key}")
        tests.append((key, op, value))

    def match(obj: dict[str, Any]) -> bool:
        for key, op, value in tests:
            got = _lookup(obj, key)
            if (got == value) != (op != "!="):
                return False
        return True

    return match
