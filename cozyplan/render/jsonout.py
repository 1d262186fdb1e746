"""Stable machine-readable output (``--json``); documented in docs/json-output.md.

Values are masked: a sensitive value is ``null`` and its path listed in ``sensitive_paths``;
a value known only after apply is ``null`` and its path listed in ``unknown_paths``.
(Terraform prints sensitive values in clear in ``show -json``; cozyplan never does.)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from cozyplan.diff import Change
from cozyplan.plan import ResourceChange
from cozyplan.planner import Drift, Plan
from cozyplan.render.values import is_sensitive
from cozyplan.values import UNKNOWN, contains_unknown

FORMAT_VERSION = "1.0"


def _masked(
    value: Any,
    path: tuple[str | int, ...],
    sens: Sequence[Sequence[str | int]],
    unknown: list[list[str | int]],
    sensitive_out: list[list[str | int]],
) -> Any:
    if value is UNKNOWN:
        unknown.append(list(path))
        return None
    if path and is_sensitive(path, sens):
        if value is not None:
            sensitive_out.append(list(path))
        return None
    if isinstance(value, dict):
        return {k: _masked(v, (*path, k), sens, unknown, sensitive_out) for k, v in value.items()}
    if isinstance(value, list):
        return [_masked(v, (*path, i), sens, unknown, sensitive_out) for i, v in enumerate(value)]
    return value


def _known(value: Any) -> Any:
    """The value with every unknown part as null."""
    if value is UNKNOWN:
        return None
    if isinstance(value, dict):
        return {k: _known(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_known(v) for v in value]
    return value


def _change(c: Change) -> dict[str, Any]:
    out: dict[str, Any] = {
        "path": c.path_str,
        "path_parts": list(c.path),
        "op": c.op.value,
        "before": None if c.sensitive else _known(c.before),
        "after": None if c.sensitive else _known(c.after),
        "after_unknown": contains_unknown(c.after),
        "sensitive": c.sensitive,
        "forces_replace": c.forces_replace,
    }
    return out


def _attrs(value: dict[str, Any] | None, sens: Sequence[Sequence[str | int]]) -> dict[str, Any]:
    unknown: list[list[str | int]] = []
    sensitive: list[list[str | int]] = []
    masked = None if value is None else _masked(value, (), sens, unknown, sensitive)
    return {"values": masked, "unknown_paths": unknown, "sensitive_paths": sensitive}


def resource_change(rc: ResourceChange) -> dict[str, Any]:
    return {
        "address": rc.address,
        "type": rc.type,
        "provider": rc.provider,
        "action": rc.action.value,
        "reason": rc.reason.name.lower() if rc.reason.value else None,
        "adopting": rc.adopting,
        "changes": [_change(c) for c in rc.changes],
        "before": _attrs(rc.before, rc.sensitive_paths),
        "after": _attrs(rc.after, rc.sensitive_paths),
        "dependencies": rc.dependencies,
    }


def drift_item(d: Drift) -> dict[str, Any]:
    return {
        "address": d.address,
        "type": d.type,
        "gone": d.gone,
        "adopted": d.adopted,
        "changes": [_change(c) for c in d.changes],
    }


def plan_document(plan: Plan) -> dict[str, Any]:
    return {
        "format_version": FORMAT_VERSION,
        "mode": plan.options.mode,
        "lineage": plan.lineage,
        "serial": plan.serial,
        "spec_sha256": plan.spec_hash,
        "has_changes": plan.has_changes,
        "summary": plan.counts(),
        "resource_changes": [resource_change(c) for c in plan.actionable],
        "drift": [drift_item(d) for d in plan.drift],
        "warnings": plan.warnings,
    }
