"""Typed attribute diffs.

Nested values (lists, maps, YAML documents) are compared with deepdiff; its result is turned into
the engine's own ``Change`` records so nothing downstream depends on deepdiff's report format.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from cozyplan.schema import ResourceSchema
from cozyplan.values import UNKNOWN

PathPart = str | int
Path = tuple[PathPart, ...]


class ChangeOp(enum.StrEnum):
    ADD = "add"
    CHANGE = "change"
    REMOVE = "remove"


@dataclass(frozen=True)
class Change:
    path: Path
    op: ChangeOp
    before: Any
    after: Any
    sensitive: bool = False
    forces_replace: bool = False

    @property
    def path_str(self) -> str:
        return path_to_str(self.path)


def path_to_str(path: Iterable[PathPart]) -> str:
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        elif out:
            out += f".{part}" if part.isidentifier() else f"[{part!r}]"
        else:
            out = part
    return out


_DEEPDIFF_OPS: dict[str, ChangeOp] = {
    "values_changed": ChangeOp.CHANGE,
    "type_changes": ChangeOp.CHANGE,
    "dictionary_item_added": ChangeOp.ADD,
    "iterable_item_added": ChangeOp.ADD,
    "attribute_added": ChangeOp.ADD,
    "set_item_added": ChangeOp.ADD,
    "dictionary_item_removed": ChangeOp.REMOVE,
    "iterable_item_removed": ChangeOp.REMOVE,
    "attribute_removed": ChangeOp.REMOVE,
    "set_item_removed": ChangeOp.REMOVE,
}


def _nested_changes(base: Path, before: Any, after: Any) -> list[tuple[Path, ChangeOp, Any, Any]]:
    """deepdiff's tree view, turned into (path, op, before, after) tuples."""
    from deepdiff import DeepDiff  # imported lazily: it costs ~0.5 s at start-up

    tree = DeepDiff(before, after, view="tree", verbose_level=2, threshold_to_diff_deeper=0)
    found: list[tuple[Path, ChangeOp, Any, Any]] = []
    for kind, items in tree.items():
        op = _DEEPDIFF_OPS.get(kind)
        if op is None:
            continue
        for item in items:
            rel = tuple(item.path(output_format="list"))
            t1 = None if op is ChangeOp.ADD else item.t1
            t2 = None if op is ChangeOp.REMOVE else item.t2
            found.append((base + rel, op, t1, t2))
    found.sort(key=lambda c: path_to_str(c[0]))
    return found


_NUMBERS = (int, float)


def strictly_equal(a: Any, b: Any) -> bool:
    """``a == b`` without Python's ``True == 1``: a change of kind is a change.

    Numbers compare by value (1 == 1.0, as in Terraform); unknown values never compare equal.
    """
    ta, tb = type(a), type(b)
    if ta is not tb:
        return ta in _NUMBERS and tb in _NUMBERS and bool(a == b)
    if ta is dict:
        if a.keys() != b.keys():
            return False
        for k, v in a.items():  # noqa: SIM110 - loops: faster than all() on big plans
            if not strictly_equal(v, b[k]):
                return False
        return True
    if ta is list:
        if len(a) != len(b):
            return False
        for x, y in zip(a, b, strict=True):  # noqa: SIM110
            if not strictly_equal(x, y):
                return False
        return True
    if a is UNKNOWN:
        return False
    return bool(a == b)


def diff_values(path: Path, before: Any, after: Any, schema: ResourceSchema | None) -> list[Change]:
    """Changes from ``before`` to ``after`` under ``path``, marked from the schema."""
    if before == after and strictly_equal(before, after):
        return []
    raw: list[tuple[Path, ChangeOp, Any, Any]]
    if (
        isinstance(before, Mapping | list)
        and isinstance(after, Mapping | list)
        and type(before) is type(after)
        and after is not UNKNOWN
    ):
        raw = _nested_changes(path, before, after)
    elif before is None:
        raw = [(path, ChangeOp.ADD, None, after)]
    elif after is None:
        raw = [(path, ChangeOp.REMOVE, before, None)]
    else:
        raw = [(path, ChangeOp.CHANGE, before, after)]
    out = []
    for p, op, b, a in raw:
        sensitive = schema.sensitive_at(p) if schema else False
        replace = schema.replace_at(p) if schema else False
        out.append(Change(p, op, b, a, sensitive=sensitive, forces_replace=replace))
    return out


def diff_attrs(
    before: Mapping[str, Any] | None,
    after: Mapping[str, Any],
    schema: ResourceSchema,
    *,
    ignore: Iterable[str] = (),
    sensitive_paths: Iterable[Path] = (),
    drift: bool = False,
) -> list[Change]:
    """Attribute changes from prior ``before`` to desired ``after``.

    Only fields the spec may set are compared (computed-only fields follow the provider), and a
    ``Computed(optional=True)`` field left unset in the spec keeps whatever the provider chose.
    With ``drift=True`` every field is compared except those marked ``Noise``.
    """
    prior = before or {}
    skip = set(ignore)
    extra_sensitive = {tuple(p) for p in sensitive_paths}
    changes: list[Change] = []
    for name, spec in schema.fields.items():
        if name in skip:
            continue
        if drift:
            if spec.noise:
                continue
        else:
            if not spec.settable:
                continue
            if spec.computed and after.get(name) is None:
                continue
        old = prior.get(name)
        new = after.get(name)
        for change in diff_values((name,), old, new, schema):
            if change.path[:1] in extra_sensitive or change.path in extra_sensitive:
                change = Change(
                    change.path,
                    change.op,
                    change.before,
                    change.after,
                    True,
                    change.forces_replace,
                )
            changes.append(change)
    return changes
