"""The CRD controllers: names accepted, then Established (time-scaled); on deletion every
custom object of the CRD is deleted before the cleanup finalizer is removed."""

from __future__ import annotations

from typing import Any

from cozyplan.lab.kube.controllers.base import Controller, Obj
from cozyplan.lab.kube.crd import CLEANUP_FINALIZER, condition, served_types
from cozyplan.lab.kube.jsoncopy import copy_json
from cozyplan.lab.kube.resources import ResourceType
from cozyplan.lab.kube.store import timestamp


def _cond(kind: str, reason: str, message: str) -> dict[str, Any]:
    return {
        "type": kind,
        "status": "True",
        "lastTransitionTime": timestamp(),
        "reason": reason,
        "message": message,
    }


class CrdController(Controller):
    watches = (("apiextensions.k8s.io", "CustomResourceDefinition"),)

    async def sync(self, rt: ResourceType, obj: Obj | None, namespace: str, name: str) -> None:
        if obj is None:
            return
        meta = obj["metadata"]
        if meta.get("deletionTimestamp"):
            await self._cleanup(rt, obj)
            return
        if CLEANUP_FINALIZER not in (meta.get("finalizers") or []):
            new = copy_json(obj)
            new["metadata"]["finalizers"] = [*(meta.get("finalizers") or []), CLEANUP_FINALIZER]
            self.store.update(rt, "", name, new, "kube-apiserver")
            return
        status = copy_json(obj.get("status") or {})
        spec = obj.get("spec") or {}
        storage = [v["name"] for v in spec.get("versions") or [] if v.get("storage")]
        if not condition(obj, "NamesAccepted"):
            await self.cluster.world.sleep(self.cluster.faults.simulated("crd_names"))
            names = copy_json(spec.get("names") or {})
            status["acceptedNames"] = names
            status["conditions"] = [
                _cond("NamesAccepted", "NoConflicts", "no conflicts found"),
                {
                    "type": "Established",
                    "status": "False",
                    "lastTransitionTime": timestamp(),
                    "reason": "Installing",
                    "message": "the initial names have been accepted",
                },
            ]
            status["storedVersions"] = storage
            self.write_status(rt, self.store.get(rt, "", name), status)
            self.later(self.cluster.faults.simulated("crd_established"), rt, "", name)
            return
        if not condition(obj, "Established"):
            status["conditions"] = [
                c for c in status.get("conditions", []) if c.get("type") != "Established"
            ] + [
                _cond("Established", "InitialNamesAccepted", "the initial names have been accepted")
            ]
            self.write_status(rt, obj, status)
            return
        if spec.get("names") != status.get("acceptedNames") or not set(storage) <= set(
            status.get("storedVersions") or []
        ):
            status["acceptedNames"] = copy_json(spec.get("names") or {})
            status["storedVersions"] = sorted({*status.get("storedVersions", []), *storage})
            self.write_status(rt, obj, status)

    async def _cleanup(self, rt: ResourceType, obj: Obj) -> None:
        name = obj["metadata"]["name"]
        group = (obj.get("spec") or {}).get("group")
        plural = ((obj.get("spec") or {}).get("names") or {}).get("plural")
        remaining = 0
        for crt in served_types(self.store, rt):
            if crt.group == group and crt.plural == plural:
                for item in list(self.store.items(crt)):
                    m = item["metadata"]
                    remaining += 1
                    if not m.get("deletionTimestamp"):
                        self.store.delete(crt, m.get("namespace", ""), m["name"])
                remaining = len(self.store.items(crt))
        if remaining:
            self.later(0.5, rt, "", name)
            return
        new = copy_json(obj)
        new["metadata"]["finalizers"] = [
            f for f in obj["metadata"].get("finalizers") or [] if f != CLEANUP_FINALIZER
        ]
        self.store.update(rt, "", name, new, "kube-apiserver")
