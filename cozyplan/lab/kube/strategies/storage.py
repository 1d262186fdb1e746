"""Storage kinds: PersistentVolumeClaim, PersistentVolume, StorageClass."""

from __future__ import annotations

from typing import Any

from cozyplan.lab.kube.errors import FieldError, forbidden, required
from cozyplan.lab.kube.strategies.base import Column, Obj, Strategy


class PvcStrategy(Strategy):
    def prepare_create(self, obj: Obj) -> None:
        obj["status"] = {"phase": "Pending"}

    def defaults(self, obj: Obj) -> None:
        obj.setdefault("spec", {}).setdefault("volumeMode", "Filesystem")

    def validate(self, obj: Obj, old: Obj | None) -> list[FieldError]:
        spec = obj.get("spec") or {}
        out = []
        if not spec.get("accessModes"):
            out.append(required("spec.accessModes"))
        if not ((spec.get("resources") or {}).get("requests") or {}).get("storage"):
            out.append(required("spec.resources[storage]"))
        if old is not None and (old.get("status") or {}).get("phase") == "Bound":

            def fixed(o: Obj) -> Obj:
                s = dict(o.get("spec") or {})
                s.pop("resources", None)
                s.pop("volumeAttributesClassName", None)
                return s

            if fixed(old) != fixed(obj):
                out.append(
                    forbidden(
                        "spec",
                        "spec is immutable after creation except "
                        "resources.requests and volumeAttributesClassName for bound "
                        "claims",
                    )
                )
        return out

    def columns(self) -> list[Column]:
        return [
            ("Name", "string", "name"),
            ("Status", "string", ""),
            ("Volume", "string", ""),
            ("StorageClass", "string", ""),
        ]

    def cells(self, obj: Obj) -> list[Any]:
        spec = obj.get("spec") or {}
        return [
            obj["metadata"]["name"],
            (obj.get("status") or {}).get("phase", ""),
            spec.get("volumeName", ""),
            spec.get("storageClassName", ""),
        ]


class PvStrategy(Strategy):
    def prepare_create(self, obj: Obj) -> None:
        obj["status"] = {"phase": "Available"}

    def defaults(self, obj: Obj) -> None:
        obj.setdefault("spec", {}).setdefault("persistentVolumeReclaimPolicy", "Retain")
        obj["spec"].setdefault("volumeMode", "Filesystem")


class StorageClassStrategy(Strategy):
    def defaults(self, obj: Obj) -> None:
        obj.setdefault("reclaimPolicy", "Delete")
        obj.setdefault("volumeBindingMode", "Immediate")

    def validate(self, obj: Obj, old: Obj | None) -> list[FieldError]:
        out = []
        if not obj.get("provisioner"):
            out.append(required("provisioner"))
        if old is not None:
            for f in ("provisioner", "parameters", "reclaimPolicy", "volumeBindingMode"):
                if old.get(f) != obj.get(f):
                    detail = "updates to " + f + " are forbidden."
                    out.append(forbidden(f, detail))
        return out

    def columns(self) -> list[Column]:
        return [
            ("Name", "string", "name"),
            ("Provisioner", "string", ""),
            ("ReclaimPolicy", "string", ""),
            ("VolumeBindingMode", "string", ""),
        ]

    def cells(self, obj: Obj) -> list[Any]:
        name = obj["metadata"]["name"]
        ann = obj["metadata"].get("annotations") or {}
        if ann.get("storageclass.kubernetes.io/is-default-class") == "true":
            name += " (default)"
        return [
            name,
            obj.get("provisioner"),
            obj.get("reclaimPolicy"),
            obj.get("volumeBindingMode"),
        ]
