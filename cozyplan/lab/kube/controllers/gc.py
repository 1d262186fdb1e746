"""The garbage collector: dependents of a deleted owner are deleted (Background), orphaned
(the ``orphan`` finalizer) or deleted before their owner goes (``foregroundDeletion``)."""

from __future__ import annotations

from cozyplan.lab.kube.controllers.base import MANAGER, Controller, Obj
from cozyplan.lab.kube.errors import StatusError
from cozyplan.lab.kube.jsoncopy import copy_json
from cozyplan.lab.kube.resources import ResourceType


class GarbageCollector(Controller):
    def observe(self, kind: str, rt: ResourceType, obj: Obj, old: Obj | None) -> None:
        meta = obj["metadata"]
        if kind == "DELETED" or meta.get("deletionTimestamp"):
            self.enqueue(rt, obj)
            if kind == "DELETED":
                self._gone[meta["uid"]] = (rt, meta.get("namespace", ""), meta["name"])

    def start(self) -> None:
        self._gone: dict[str, tuple[ResourceType, str, str]] = {}
        super().start()

    def dependents(self, uid: str) -> list[tuple[ResourceType, Obj]]:
        out = []
        for rt in self.cluster.registry().values():
            for item in self.store.items(rt):
                refs = item["metadata"].get("ownerReferences") or []
                if any(r.get("uid") == uid for r in refs):
                    out.append((rt, item))
        return out

    async def sync(self, rt: ResourceType, obj: Obj | None, namespace: str, name: str) -> None:
        if obj is None:
            for uid, (grt, gns, gname) in list(self._gone.items()):
                if (grt.plural, gns, gname) == (rt.plural, namespace, name):
                    del self._gone[uid]
                    await self.cluster.world.sleep(self.cluster.faults.simulated("gc"))
                    self._delete_dependents(uid, "Background")
            return
        meta = obj["metadata"]
        finalizers = meta.get("finalizers") or []
        if "orphan" in finalizers:
            for drt, dep in self.dependents(meta["uid"]):
                new = copy_json(dep)
                new["metadata"]["ownerReferences"] = [
                    r for r in dep["metadata"]["ownerReferences"] if r.get("uid") != meta["uid"]
                ]
                dmeta = dep["metadata"]
                self.store.update(drt, dmeta.get("namespace", ""), dmeta["name"], new, MANAGER)
            self._drop_finalizer(rt, obj, "orphan")
        elif "foregroundDeletion" in finalizers:
            if self._delete_dependents(meta["uid"], "Foreground"):
                self.later(0.2, rt, namespace, name)
            else:
                self._drop_finalizer(rt, obj, "foregroundDeletion")

    def _delete_dependents(self, uid: str, policy: str) -> int:
        found = self.dependents(uid)
        for drt, dep in found:
            dmeta = dep["metadata"]
            if dmeta.get("deletionTimestamp"):
                continue
            try:
                self.store.delete(
                    drt, dmeta.get("namespace", ""), dmeta["name"], propagation=policy
                )
            except StatusError:
                continue
        return len(found)

    def _drop_finalizer(self, rt: ResourceType, obj: Obj, finalizer: str) -> None:
        fresh = self.store.find(rt, obj["metadata"].get("namespace", ""), obj["metadata"]["name"])
        if fresh is None:
            return
        new = copy_json(fresh)
        new["metadata"]["finalizers"] = [
            f for f in fresh["metadata"].get("finalizers") or [] if f != finalizer
        ]
        meta = new["metadata"]
        self.store.update(rt, meta.get("namespace", ""), meta["name"], new, MANAGER)
