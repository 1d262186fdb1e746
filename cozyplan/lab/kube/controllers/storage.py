"""The persistent-volume controller and a dynamic provisioner: a claim of a StorageClass gets a
volume (``pvc-<uid>``) and is Bound after the (scaled) ``provision`` latency; with
``WaitForFirstConsumer`` only once the scheduler picked a node for a pod using it. Claims are
protected (``kubernetes.io/pvc-protection``) while a pod uses them; a released volume of a
``Delete`` class is deleted. Provisioners that work: every one, or only those the cluster's
``provisioners`` list names (``KubeSimulator.set_provisioners``)."""

from __future__ import annotations

from typing import Any

from cozyplan.lab.kube.controllers.base import MANAGER, Controller, Obj
from cozyplan.lab.kube.controllers.pods import claims, finished
from cozyplan.lab.kube.errors import StatusError
from cozyplan.lab.kube.jsoncopy import copy_json
from cozyplan.lab.kube.resources import ResourceType

PROTECTION = "kubernetes.io/pvc-protection"
DEFAULT_CLASS = "storageclass.kubernetes.io/is-default-class"


class StorageController(Controller):
    watches = (("", "PersistentVolumeClaim"), ("storage.k8s.io", "StorageClass"), ("", "Pod"))

    def __init__(self, cluster: Any) -> None:
        super().__init__(cluster)
        self.waiting: dict[str, float] = {}

    def observe(self, kind: str, rt: ResourceType, obj: Obj, old: Obj | None) -> None:
        pvc_rt = self.rt("", "PersistentVolumeClaim")
        if rt.kind == "PersistentVolumeClaim":
            self.enqueue(rt, obj)
        elif rt.kind == "Pod":
            for name in claims(obj):
                pvc = self.store.find(pvc_rt, obj["metadata"]["namespace"], name)
                if pvc is not None:
                    self.enqueue(pvc_rt, pvc)
        else:
            for pvc in self.store.items(pvc_rt):
                self.enqueue(pvc_rt, pvc)

    def default_class(self) -> str | None:
        for sc in self.store.items(self.rt("storage.k8s.io", "StorageClass")):
            if (sc["metadata"].get("annotations") or {}).get(DEFAULT_CLASS) == "true":
                return str(sc["metadata"]["name"])
        return None

    def in_use(self, pvc: Obj) -> bool:
        ns, name = pvc["metadata"]["namespace"], pvc["metadata"]["name"]
        return any(
            name in claims(p) and not finished(p) for p in self.store.items(self.rt("", "Pod"), ns)
        )

    async def sync(self, rt: ResourceType, obj: Obj | None, namespace: str, name: str) -> None:
        if obj is None or rt.kind != "PersistentVolumeClaim":
            return
        meta = obj["metadata"]
        if meta.get("deletionTimestamp"):
            if PROTECTION in (meta.get("finalizers") or []) and not self.in_use(obj):
                new = copy_json(obj)
                new["metadata"]["finalizers"] = [f for f in meta["finalizers"] if f != PROTECTION]
                self.store.update(rt, namespace, name, new, MANAGER)
                self._release(obj)
            return
        if PROTECTION not in (meta.get("finalizers") or []):
            new = copy_json(obj)
            new["metadata"]["finalizers"] = [*(meta.get("finalizers") or []), PROTECTION]
            self.store.update(rt, namespace, name, new, MANAGER)
            return
        if (obj.get("status") or {}).get("phase") == "Bound":
            return
        spec = obj.get("spec") or {}
        class_name = spec.get("storageClassName") or self.default_class()
        if not class_name:
            return
        sc = self.store.find(self.rt("storage.k8s.io", "StorageClass"), "", class_name)
        if sc is None:
            return
        provisioner = str(sc.get("provisioner", ""))
        allowed = self.cluster.record.get("provisioners")
        if allowed is not None and provisioner not in allowed:
            return
        annotations = meta.get("annotations") or {}
        if sc.get("volumeBindingMode") == "WaitForFirstConsumer" and not annotations.get(
            "volume.kubernetes.io/selected-node"
        ):
            self.event(
                rt,
                obj,
                "WaitForFirstConsumer",
                "waiting for first consumer to be created before binding",
                component="persistentvolume-controller",
            )
            return
        uid = meta["uid"]
        loop = __import__("asyncio").get_running_loop()
        began = self.waiting.setdefault(uid, loop.time())
        left = began + self.cluster.faults.latency("provision") - loop.time()
        if left > 0:
            self.later(left / max(self.cluster.world.time_scale, 1e-9), rt, namespace, name)
            return
        self._bind(rt, obj, sc, class_name)

    def _bind(self, rt: ResourceType, pvc: Obj, sc: Obj, class_name: str) -> None:
        meta, spec = pvc["metadata"], pvc.get("spec") or {}
        pv_name = f"pvc-{meta['uid']}"
        size = ((spec.get("resources") or {}).get("requests") or {}).get("storage", "1Gi")
        pv_rt = self.rt("", "PersistentVolume")
        if self.store.find(pv_rt, "", pv_name) is None:
            pv = {
                "metadata": {
                    "name": pv_name,
                    "annotations": {"pv.kubernetes.io/provisioned-by": sc.get("provisioner", "")},
                    "finalizers": ["kubernetes.io/pv-protection"],
                },
                "spec": {
                    "capacity": {"storage": size},
                    "accessModes": spec.get("accessModes") or ["ReadWriteOnce"],
                    "persistentVolumeReclaimPolicy": sc.get("reclaimPolicy", "Delete"),
                    "storageClassName": class_name,
                    "volumeMode": spec.get("volumeMode", "Filesystem"),
                    "claimRef": {
                        "kind": "PersistentVolumeClaim",
                        "namespace": meta["namespace"],
                        "name": meta["name"],
                        "uid": meta["uid"],
                        "apiVersion": "v1",
                    },
                    "csi": {"driver": sc.get("provisioner", ""), "volumeHandle": pv_name},
                },
            }
            made = self.store.create(pv_rt, "", pv, "persistentvolume-controller")
            self.write_status(pv_rt, made, {"phase": "Bound"})
        new = copy_json(pvc)
        new["spec"]["volumeName"] = pv_name
        new["spec"]["storageClassName"] = class_name
        ann = new["metadata"].setdefault("annotations", {})
        ann.update(
            {
                "pv.kubernetes.io/bind-completed": "yes",
                "pv.kubernetes.io/bound-by-controller": "yes",
                "volume.kubernetes.io/storage-provisioner": sc.get("provisioner", ""),
            }
        )
        self.event(
            rt,
            pvc,
            "ProvisioningSucceeded",
            f"Successfully provisioned volume {pv_name}",
            component=f"{sc.get('provisioner', '')}_lab",
        )
        updated = self.store.update(
            rt, meta["namespace"], meta["name"], new, "persistentvolume-controller"
        )
        self.write_status(
            rt,
            updated,
            {
                "phase": "Bound",
                "accessModes": new["spec"].get("accessModes") or [],
                "capacity": {"storage": size},
            },
        )
        self.waiting.pop(meta["uid"], None)

    def _release(self, pvc: Obj) -> None:
        volume = (pvc.get("spec") or {}).get("volumeName")
        if not volume:
            return
        pv_rt = self.rt("", "PersistentVolume")
        pv = self.store.find(pv_rt, "", volume)
        if pv is None:
            return
        if (pv.get("spec") or {}).get("persistentVolumeReclaimPolicy") == "Delete":
            new = copy_json(pv)
            new["metadata"]["finalizers"] = []
            try:
                self.store.update(pv_rt, "", volume, new, "persistentvolume-controller")
                self.store.delete(pv_rt, "", volume)
            except StatusError:
                pass
        else:
            self.write_status(pv_rt, pv, {"phase": "Released"})
