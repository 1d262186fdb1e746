"""managedFields: who owns which field (k8s.io/apiserver/pkg/endpoints/handlers/fieldmanager).

``apply`` is server-side apply: the applied configuration is merged over the live object, fields
owned by another manager whose value would change are conflicts (unless forced, then the applier
takes them), and fields the applier set last time but no longer sends are removed unless another
manager owns them. ``update`` records a write by PUT/PATCH/POST: the writer takes the fields it
changed, every manager loses the fields that were removed.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from cozyplan.lab.kube import fieldpath as fp
from cozyplan.lab.kube.errors import StatusError
from cozyplan.lab.kube.jsoncopy import copy_json

_STRIPPED: set[fp.Path] = {
    ("f:apiVersion",),
    ("f:kind",),
    ("f:metadata",),
    *(
        ("f:metadata", "f:" + n)
        for n in (
            "name",
            "namespace",
            "creationTimestamp",
            "selfLink",
            "uid",
            "generation",
            "managedFields",
            "resourceVersion",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
        )
    ),
}


def now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Entry:
    manager: str
    operation: str  # Apply | Update
    api_version: str
    time: str
    subresource: str = ""
    fields: set[fp.Path] = field(default_factory=set)

    def same(self, manager: str, operation: str, api_version: str, subresource: str) -> bool:
        return (
            self.manager == manager
            and self.operation == operation
            and self.subresource == subresource
            and (operation == "Apply" or self.api_version == api_version)
        )

    def encode(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "manager": self.manager,
            "operation": self.operation,
            "apiVersion": self.api_version,
            "time": self.time,
            "fieldsType": "FieldsV1",
            "fieldsV1": fp.to_fields_v1(self.fields),
        }
        if self.subresource:
            out["subresource"] = self.subresource
        return out


def decode(obj: dict[str, Any] | None) -> list[Entry]:
    out = []
    for raw in (obj or {}).get("metadata", {}).get("managedFields") or []:
        if not isinstance(raw, dict) or not raw.get("manager"):
            continue
        out.append(
            Entry(
                str(raw["manager"]),
                str(raw.get("operation", "Update")),
                str(raw.get("apiVersion", "")),
                str(raw.get("time", "")),
                str(raw.get("subresource", "")),
                fp.from_fields_v1(raw.get("fieldsV1") or {}),
            )
        )
    return out


def _store(obj: dict[str, Any], entries: list[Entry]) -> None:
    kept = [e.encode() for e in entries if e.fields]
    meta = obj.setdefault("metadata", {})
    if kept:
        meta["managedFields"] = kept
    else:
        meta.pop("managedFields", None)


def _strip(obj: dict[str, Any], reset: tuple[str, ...]) -> dict[str, Any]:
    out = dict(obj)  # only top-level and metadata keys are removed: the rest is shared
    meta: dict[str, Any] = {}
    if out.get("metadata"):
        meta = out["metadata"] = dict(out["metadata"])
    for p in _STRIPPED:
        if len(p) == 2:
            meta.pop(p[1][2:], None)
    for top in reset:
        out.pop(top, None)
    return out


def _members(obj: dict[str, Any], lt: fp.ListTypes) -> dict[fp.Path, Any]:
    return {p: v for p, v in fp.leaves(obj, lt).items() if p not in _STRIPPED}


def _manager_text(e: Entry) -> str:
    text = f'"{e.manager}"'
    if e.subresource:
        text += f' with subresource "{e.subresource}"'
    if e.operation == "Update":
        text += f" using {e.api_version}"
        if e.time:
            text += f" at {e.time}"
    return text


def conflict_error(conflicts: list[tuple[Entry, fp.Path]]) -> StatusError:
    causes = [
        {
            "reason": "FieldManagerConflict",
            "message": f"conflict with {_manager_text(e)}",
            "field": fp.path_string(p),
        }
        for e, p in conflicts
    ]
    if len(conflicts) == 1:
        e, p = conflicts[0]
        message = f"Apply failed with 1 conflict: conflict with {_manager_text(e)}: " + (
            fp.path_string(p)
        )
    else:
        by_manager: dict[str, list[str]] = {}
        for e, p in conflicts:
            by_manager.setdefault(_manager_text(e), []).append(fp.path_string(p))
        lines = []
        for manager in sorted(by_manager):
            lines.append(f"conflicts with {manager}:")
            lines += [f"- {p}" for p in by_manager[manager]]
        message = f"Apply failed with {len(conflicts)} conflicts: " + "\n".join(lines)
    return StatusError(409, "Conflict", message, {"causes": causes})


def apply(
    live: dict[str, Any] | None,
    config: dict[str, Any],
    manager: str,
    *,
    force: bool,
    list_types: fp.ListTypes,
    reset: tuple[str, ...] = (),
    subresource: str = "",
) -> dict[str, Any]:
    """The object after ``manager`` applied ``config`` (with its managedFields)."""
    entries = decode(live)
    base = copy_json(live) if live is not None else {}
    base.get("metadata", {}).pop("managedFields", None)
    cfg = _strip(config, reset)
    cfg_members = _members(cfg, list_types)
    cfg_set = set(cfg_members)
    merged: dict[str, Any] = fp.merge(base, cfg, list_types)
    before = _members(base, list_types)
    after = _members(merged, list_types)
    changed = {p for p in cfg_set if p not in before or before[p] != after.get(p)}
    api_version = str(config.get("apiVersion", ""))
    mine = next((e for e in entries if e.same(manager, "Apply", api_version, subresource)), None)
    conflicts = [
        (e, p) for e in entries if e is not mine for p in sorted(e.fields & changed) if p in before
    ]
    if conflicts and not force:
        raise conflict_error(conflicts)
    for e, p in conflicts:
        e.fields.discard(p)
    previous = mine.fields if mine is not None else set()
    others = [e for e in entries if e is not mine]
    for p in sorted(previous - cfg_set, key=len, reverse=True):
        if not any(q[: len(p)] == p for e in others for q in e.fields):
            fp.remove(merged, p)
    if mine is None:
        mine = Entry(manager, "Apply", api_version, now(), subresource)
        entries.append(mine)
    elif mine.fields != cfg_set or merged != base or conflicts:
        mine.time = now()  # an apply that changes nothing keeps its entry as it was
    mine.fields, mine.api_version = cfg_set, api_version
    _store(merged, entries)
    return merged


def update(
    old: dict[str, Any] | None,
    new: dict[str, Any],
    manager: str,
    *,
    list_types: fp.ListTypes,
    subresource: str = "",
) -> None:
    """Record in ``new``'s managedFields that ``manager`` wrote ``new`` over ``old``."""
    sent = (new.get("metadata") or {}).get("managedFields")
    if sent == [{}]:  # the documented way to strip every managedFields entry
        new["metadata"].pop("managedFields", None)
        return
    kept = ((old or {}).get("metadata") or {}).get("managedFields")
    # a client may replace the entries (an empty list is ignored, so that clients unaware of
    # the field never strip it)
    entries = decode(new) if sent and sent != kept else decode(old)
    before = _members(_strip(old or {}, ()), list_types)
    after = _members(_strip(new, ()), list_types)
    changed = {p for p, v in after.items() if p not in before or before[p] != v}
    removed = set(before) - set(after)
    api_version = str(new.get("apiVersion", ""))
    mine = next((e for e in entries if e.same(manager, "Update", api_version, subresource)), None)
    for e in entries:
        e.fields = {p for p in e.fields if p not in removed and (e is mine or p not in changed)}
    if changed:
        if mine is None:
            mine = Entry(manager, "Update", api_version, now(), subresource)
            entries.append(mine)
        mine.fields |= changed
        mine.time = now()
    _store(new, entries)
