"""An ``apps.cozystack.io`` spec checked as the server and Helm would, and stricter.

The app's spec becomes the values of its HelmRelease; Helm merges them over the chart's
``values.yaml`` and validates the result against the chart's ``values.schema.json``
(``jsonschema`` here, on the same merge). The cozystack-api silently drops (prunes) fields the
schema does not know. Dropping is what hurts: the runbook's Postgres ``storage: 10Gi`` vanishes
and the database gets the default 10Gi. So every key the schema would prune is an error here,
with the keys that exist at that level.
"""

from __future__ import annotations

import copy
import difflib
from collections.abc import Mapping
from typing import Any

import jsonschema

Path = tuple[str | int, ...]


def apply_defaults(schema: Mapping[str, Any], value: Any) -> Any:
    """``value`` with the schema's ``default``s filled in (structural defaulting)."""
    if isinstance(value, dict):
        out = dict(value)
        props = schema.get("properties") or {}
        for name, sub in props.items():
            if name not in out and "default" in sub:
                out[name] = copy.deepcopy(sub["default"])
            if name in out:
                out[name] = apply_defaults(sub, out[name])
        extra = schema.get("additionalProperties")
        if isinstance(extra, Mapping):
            for name in out:
                if name not in props:
                    out[name] = apply_defaults(extra, out[name])
        return out
    if isinstance(value, list) and isinstance(schema.get("items"), Mapping):
        return [apply_defaults(schema["items"], item) for item in value]
    return value


#: where a key people write really lives (by the key's name at any level)
RENAMES = {
    "storage": "size",
}


def _unknown_keys(schema: Mapping[str, Any], value: Any, path: Path) -> list[tuple[Path, str]]:
    out: list[tuple[Path, str]] = []
    if schema.get("x-kubernetes-preserve-unknown-fields"):
        return out
    if isinstance(value, dict):
        props = schema.get("properties") or {}
        extra = schema.get("additionalProperties")
        for key, item in value.items():
            if key in props:
                out.extend(_unknown_keys(props[key], item, (*path, key)))
            elif isinstance(extra, Mapping):
                out.extend(_unknown_keys(extra, item, (*path, key)))
            elif extra is True:
                continue
            elif props or schema.get("type") == "object":
                names = sorted(props)
                renamed = RENAMES.get(str(key))
                close = (
                    [renamed]
                    if renamed in props
                    else difflib.get_close_matches(str(key), names, n=1)
                )
                hint = f"; did you mean {close[0]!r}?" if close else ""
                if str(key) == "replicas" and "controlPlane" in props:
                    hint = (
                        "; control-plane replicas are controlPlane.replicas, workers are "
                        "nodeGroups.<name>.minReplicas/maxReplicas"
                    )
                out.append(
                    (
                        (*path, key),
                        f"unknown field {key!r}: the server would silently drop it{hint} "
                        f"(fields here: {', '.join(names) or 'none'})",
                    )
                )
    elif isinstance(value, list) and isinstance(schema.get("items"), Mapping):
        for i, item in enumerate(value):
            out.extend(_unknown_keys(schema["items"], item, (*path, i)))
    return out


def _schema_at(schema: Mapping[str, Any], path: Path) -> Mapping[str, Any]:
    cur: Mapping[str, Any] = schema
    for part in path:
        if isinstance(part, int):
            cur = cur.get("items") or {}
        else:
            props = cur.get("properties") or {}
            extra = cur.get("additionalProperties")
            cur = props.get(part) or (extra if isinstance(extra, Mapping) else {})
    return cur


def _type_hint(schema: Mapping[str, Any], path: Path, value: Any) -> str:
    sub = _schema_at(schema, path)
    if (
        isinstance(value, list)
        and sub.get("type") == "object"
        and isinstance(sub.get("additionalProperties"), Mapping)
    ):
        example = next(iter(sub.get("default") or {}), "NAME")
        return (
            f"{path[-1] if path else 'spec'} is a map keyed by name (e.g. {example}: {{...}}), "
            "not a list"
        )
    return ""


def merge_values(base: Any, override: Any) -> Any:
    """Helm's coalescing of user values over the chart's: maps merge, anything else replaces."""
    if isinstance(base, dict) and isinstance(override, dict):
        out = dict(base)
        for key, value in override.items():
            out[key] = merge_values(base.get(key), value) if key in base else value
        return out
    return copy.deepcopy(override)


def check_app_spec(
    schema: Mapping[str, Any], spec: Any, chart_values: Mapping[str, Any] | None = None
) -> list[tuple[Path, str]]:
    """Every problem as (path inside the spec, message); empty when the server would accept."""
    if not isinstance(spec, dict):
        return [((), "spec must be a mapping")]
    problems = _unknown_keys(schema, spec, ())
    defaulted = merge_values(dict(chart_values or {}), spec)
    validator = jsonschema.Draft7Validator(schema)
    for err in sorted(validator.iter_errors(defaulted), key=lambda e: list(map(str, e.path))):
        path = tuple(err.path)
        hint = _type_hint(schema, path, err.instance) if err.validator == "type" else ""
        problems.append((path, hint or err.message))
    return problems
