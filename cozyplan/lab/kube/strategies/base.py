"""The strategy every kind starts from (as kube-apiserver's registry strategies): defaults,
validation, what the main resource and the status subresource may change, when
``metadata.generation`` moves, field selectors and the columns ``kubectl get`` prints."""

from __future__ import annotations

import datetime as dt
from typing import Any

from cozyplan.lab.kube import fieldpath as fp
from cozyplan.lab.kube.errors import FieldError
from cozyplan.lab.kube.jsoncopy import copy_json
from cozyplan.lab.kube.resources import ResourceType

Obj = dict[str, Any]
Column = tuple[str, str, str]  # name, type, format


class Strategy:
    """Defaults for every kind; subclasses add their kind's rules."""

    namespace_name = False  # the name must be a DNS label (not a subdomain)
    age_column = True  # tables end with the object's Age
    generation = False
    field_labels: set[str] = set()

    def __init__(self, rt: ResourceType) -> None:
        self.rt = rt
        if "status" in rt.subresources:
            self.generation = True

    # -- typing -------------------------------------------------------------------------------
    def list_types(self, path: tuple[str, ...]) -> fp.ListType:
        return fp.builtin_list_type(path)

    def supported_field_labels(self) -> set[str]:
        base = {"metadata.name"}
        if self.rt.namespaced:
            base.add("metadata.namespace")
        return base | self.field_labels

    # -- lifecycle ---------------------------------------------------------------------------
    def defaults(self, obj: Obj) -> None:
        """Fill defaulted fields (the real API's SetDefaults_* functions)."""

    def prepare_create(self, obj: Obj) -> None:
        """A kind with a status subresource starts without status (its controllers write it)."""
        if "status" in self.rt.subresources:
            obj.pop("status", None)

    def prepare_update(self, old: Obj, new: Obj, subresource: str) -> None:
        """The main resource keeps the old status; /status changes the status only (metadata
        as ResetObjectMetaForStatus leaves it: only managedFields travel with the write)."""
        if "status" not in self.rt.subresources:
            return
        if subresource == "status":
            status = new.get("status")
            keep_meta = new.get("metadata", {})
            new.clear()
            new.update(copy_json({k: v for k, v in old.items() if k != "status"}))
            if status is not None:
                new["status"] = status
            if "managedFields" in keep_meta:
                new["metadata"]["managedFields"] = keep_meta["managedFields"]
        elif "status" in old:
            new["status"] = copy_json(old["status"])
        else:
            new.pop("status", None)

    def reset_fields(self, subresource: str) -> tuple[str, ...]:
        """Top-level fields an apply to this (sub)resource may not set."""
        if "status" not in self.rt.subresources:
            return ()
        if subresource == "status":
            return ("spec",)
        return ("status",)

    def spec_changed(self, old: Obj, new: Obj) -> bool:
        def body(o: Obj) -> Obj:
            return {k: v for k, v in o.items() if k not in ("metadata", "status")}

        return body(old) != body(new)

    def validate(self, obj: Obj, old: Obj | None) -> list[FieldError]:
        return []

    # -- printing -----------------------------------------------------------------------------
    def columns(self) -> list[Column]:
        return [("Name", "string", "name")]

    def cells(self, obj: Obj) -> list[Any]:
        return [obj["metadata"]["name"]]

    def wide_columns(self) -> list[Column]:
        """Columns ``kubectl get -o wide`` adds (priority 1)."""
        return []

    def wide_cells(self, obj: Obj) -> list[Any]:
        return []


def age(obj: Obj) -> str:
    created = (obj.get("metadata") or {}).get("creationTimestamp")
    if not created:
        return "<unknown>"
    then = dt.datetime.strptime(created, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)
    secs = max(0, int((dt.datetime.now(dt.UTC) - then).total_seconds()))
    if secs < 120:
        return f"{secs}s"
    mins = secs // 60
    if mins < 10:
        return f"{mins}m{secs % 60}s" if secs % 60 else f"{mins}m"
    if mins < 180:
        return f"{mins}m"
    hours = mins // 60
    if hours < 8:
        return f"{hours}h{mins % 60}m" if mins % 60 else f"{hours}h"
    if hours < 48:
        return f"{hours}h"
    return f"{hours // 24}d"
