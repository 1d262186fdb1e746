"""The namespace controller: a namespace being deleted is emptied, then its ``kubernetes``
finalizer is removed and it disappears."""

from __future__ import annotations

from cozyplan.lab.kube.controllers.base import Controller, Obj
from cozyplan.lab.kube.resources import ResourceType


class NamespaceController(Controller):
    watches = (("", "Namespace"),)

    async def sync(self, rt: ResourceType, obj: Obj | None, namespace: str, name: str) -> None:
        if obj is None or not obj["metadata"].get("deletionTimestamp"):
            return
        remaining = 0
        for other in self.cluster.registry().values():
            if not other.namespaced:
                continue
            for item in list(self.store.items(other, name)):
                remaining += 1
                if not item["metadata"].get("deletionTimestamp"):
                    self.store.delete(
                        other, name, item["metadata"]["name"], propagation="Background"
                    )
        if remaining:
            # objects held by finalizers: look again after a pass
            self.later(self.cluster.faults.simulated("namespace_cleanup"), rt, "", name)
            return
        finalizers = [
            f for f in (obj.get("spec") or {}).get("finalizers") or [] if f != "kubernetes"
        ]
        self.store.finalize_namespace(name, finalizers)
