"""Controllers that own pods: ReplicaSets, StatefulSets (ordered, with volume claim templates),
DaemonSets (one pod per node it fits on) and Jobs (pods run to completion). Each keeps its pods
in line with its spec and reports their state in its status."""

from __future__ import annotations

import hashlib
import json
from typing import Any, ClassVar

from cozyplan.lab.kube.controllers.base import MANAGER, Controller, Obj
from cozyplan.lab.kube.controllers.pods import finished, ready
from cozyplan.lab.kube.controllers.scheduling import fits
from cozyplan.lab.kube.errors import StatusError
from cozyplan.lab.kube.jsoncopy import copy_json
from cozyplan.lab.kube.resources import ResourceType
from cozyplan.lab.kube.store import timestamp


def template_hash(template: Obj) -> str:
    digest = hashlib.sha256(json.dumps(template, sort_keys=True).encode()).hexdigest()
    return str(int(digest[:8], 16))[:10]


def condition(kind: str, status: bool, reason: str, message: str, old: Obj) -> Obj:
    prev: Obj = next((c for c in old.get("conditions") or [] if c.get("type") == kind), {})
    value = "True" if status else "False"
    now = timestamp()
    moved = prev.get("status") != value
    return {
        "type": kind,
        "status": value,
        "lastUpdateTime": now
        if moved or prev.get("reason") != reason
        else prev.get("lastUpdateTime", now),
        "lastTransitionTime": now if moved else prev.get("lastTransitionTime", now),
        "reason": reason,
        "message": message,
    }


def owner_ref(rt: ResourceType, owner: Obj) -> Obj:
    return {
        "apiVersion": rt.api_version,
        "kind": rt.kind,
        "name": owner["metadata"]["name"],
        "uid": owner["metadata"]["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }


def controlled_by(obj: Obj, uid: str) -> bool:
    return any(
        r.get("uid") == uid and r.get("controller")
        for r in obj["metadata"].get("ownerReferences") or []
    )


class PodOwner(Controller):
    kind: ClassVar[tuple[str, str]]

    def __init__(self, cluster: Any) -> None:
        super().__init__(cluster)
        self.watches = (self.kind, ("", "Pod"), ("", "Node"))  # type: ignore[misc]

    def observe(self, kind: str, rt: ResourceType, obj: Obj, old: Obj | None) -> None:
        if (rt.group, rt.kind) == self.kind:
            self.enqueue(rt, obj)
            return
        mine = self.rt(*self.kind)
        if rt.kind == "Pod":
            for ref in obj["metadata"].get("ownerReferences") or []:
                if ref.get("controller") and ref.get("kind") == mine.kind:
                    owner = self.store.find(
                        mine, obj["metadata"].get("namespace", ""), str(ref.get("name"))
                    )
                    if owner is not None:
                        self.enqueue(mine, owner)
        elif rt.kind == "Node" and self.kind[1] == "DaemonSet":
            for item in self.store.items(mine):
                self.enqueue(mine, item)

    def pods(self, owner: Obj) -> list[Obj]:
        ns = owner["metadata"]["namespace"]
        uid = owner["metadata"]["uid"]
        return [p for p in self.store.items(self.rt("", "Pod"), ns) if controlled_by(p, uid)]

    def make_pod(
        self,
        rt: ResourceType,
        owner: Obj,
        name: str | None,
        extra_labels: Obj,
        node: str | None = None,
        claims: dict[str, str] | None = None,
    ) -> None:
        template = copy_json((owner.get("spec") or {}).get("template") or {})
        meta = template.get("metadata") or {}
        meta.pop("creationTimestamp", None)
        meta["labels"] = {**(meta.get("labels") or {}), **extra_labels}
        meta["ownerReferences"] = [owner_ref(rt, owner)]
        if name:
            meta["name"] = name
        else:
            meta["generateName"] = owner["metadata"]["name"] + "-"
        spec = template.get("spec") or {}
        if node:
            spec["nodeName"] = node
        if claims:  # a StatefulSet's pods mount their claims
            names = set(claims)
            spec["volumes"] = [
                v for v in spec.get("volumes") or [] if v.get("name") not in names
            ] + [{"name": n, "persistentVolumeClaim": {"claimName": c}} for n, c in claims.items()]
        ns = owner["metadata"]["namespace"]
        try:
            made = self.store.create(
                self.rt("", "Pod"), ns, {"metadata": meta, "spec": spec}, MANAGER
            )
        except StatusError as exc:
            if exc.code != 409:
                raise
            return
        pod = made["metadata"]["name"]
        if rt.kind == "StatefulSet":
            text = f"create Pod {pod} in StatefulSet {owner['metadata']['name']} successful"
        else:
            text = f"Created pod: {pod}"
        self.event(rt, owner, "SuccessfulCreate", text)

    def delete_pod(
        self, pod: Obj, rt: ResourceType | None = None, owner: Obj | None = None
    ) -> None:
        meta = pod["metadata"]
        try:
            self.store.delete(self.rt("", "Pod"), meta["namespace"], meta["name"])
        except StatusError as exc:
            if exc.code != 404:
                raise
            return
        if rt is not None and owner is not None:
            self.event(rt, owner, "SuccessfulDelete", f"Deleted pod: {meta['name']}")

    async def sync(self, rt: ResourceType, obj: Obj | None, namespace: str, name: str) -> None:
        if (
            obj is None
            or (rt.group, rt.kind) != self.kind
            or obj["metadata"].get("deletionTimestamp")
        ):
            return
        self.reconcile(rt, obj)

    def reconcile(self, rt: ResourceType, obj: Obj) -> None:
        raise NotImplementedError


class ReplicaSetController(PodOwner):
    kind = ("apps", "ReplicaSet")

    def reconcile(self, rt: ResourceType, obj: Obj) -> None:
        spec = obj.get("spec") or {}
        want = int(spec.get("replicas", 1))
        pods = [p for p in self.pods(obj) if not p["metadata"].get("deletionTimestamp")]
        hash_label = (
            ((spec.get("template") or {}).get("metadata") or {})
            .get("labels", {})
            .get("pod-template-hash")
        )
        extra = {"pod-template-hash": hash_label} if hash_label else {}
        for _ in range(want - len(pods)):
            self.make_pod(rt, obj, None, extra)
        for pod in sorted(pods, key=lambda p: (ready(p), p["metadata"]["creationTimestamp"]))[
            : max(0, len(pods) - want)
        ]:
            self.delete_pod(pod, rt, obj)
        pods = self.pods(obj)
        n_ready = sum(1 for p in pods if ready(p))
        status = {
            "observedGeneration": obj["metadata"].get("generation", 1),
            "replicas": len(pods),
            "fullyLabeledReplicas": len(pods),
            "readyReplicas": n_ready,
            "availableReplicas": n_ready,
        }
        self.write_status(
            rt,
            obj,
            {k: v for k, v in status.items() if v or k in ("replicas", "observedGeneration")},
        )


class StatefulSetController(PodOwner):
    kind = ("apps", "StatefulSet")

    def reconcile(self, rt: ResourceType, obj: Obj) -> None:
        spec, meta = obj.get("spec") or {}, obj["metadata"]
        want = int(spec.get("replicas", 1))
        revision = f"{meta['name']}-{template_hash(spec.get('template') or {})}"
        ordered = spec.get("podManagementPolicy", "OrderedReady") == "OrderedReady"
        pods = {p["metadata"]["name"]: p for p in self.pods(obj)}
        for i in range(want):
            pod_name = f"{meta['name']}-{i}"
            if pod_name in pods:
                if ordered and not ready(pods[pod_name]):
                    break
                continue
            claims = {}
            for vct in spec.get("volumeClaimTemplates") or []:
                claims[str(vct["metadata"]["name"])] = self._claim(obj, vct, pod_name)
            labels = {
                "controller-revision-hash": revision,
                "statefulset.kubernetes.io/pod-name": pod_name,
                "apps.kubernetes.io/pod-index": str(i),
            }
            self.make_pod(rt, obj, pod_name, labels, claims=claims)
            if ordered:
                break
        for pod_name, pod in pods.items():
            if int(pod_name.rsplit("-", 1)[1]) >= want:
                self.delete_pod(pod, rt, obj)
        pods_now = [
            p for p in self.pods(obj) if int(p["metadata"]["name"].rsplit("-", 1)[1]) < want
        ]
        n_ready = sum(1 for p in pods_now if ready(p))
        self.write_status(
            rt,
            obj,
            {
                "observedGeneration": meta.get("generation", 1),
                "replicas": len(pods_now),
                "readyReplicas": n_ready,
                "currentReplicas": len(pods_now),
                "updatedReplicas": len(pods_now),
                "availableReplicas": n_ready,
                "currentRevision": revision,
                "updateRevision": revision,
                "collisionCount": 0,
            },
        )

    def _claim(self, owner: Obj, template: Obj, pod_name: str) -> str:
        meta = copy_json(template.get("metadata") or {})
        meta["name"] = f"{meta.get('name')}-{pod_name}"
        meta.setdefault("labels", {}).update(
            (owner.get("spec") or {}).get("selector", {}).get("matchLabels") or {}
        )
        pvc_rt = self.rt("", "PersistentVolumeClaim")
        ns = owner["metadata"]["namespace"]
        if self.store.find(pvc_rt, ns, meta["name"]) is None:
            owner_name = owner["metadata"]["name"]
            self.event(
                self.rt("apps", "StatefulSet"),
                owner,
                "SuccessfulCreate",
                f"create Claim {meta['name']} Pod {pod_name} in StatefulSet {owner_name} success",
            )
            self.store.create(
                pvc_rt,
                ns,
                {"metadata": meta, "spec": copy_json(template.get("spec") or {})},
                MANAGER,
            )
        return str(meta["name"])


class DaemonSetController(PodOwner):
    kind = ("apps", "DaemonSet")
    #: tolerations the DaemonSet controller adds to its pods
    _AUTO = [
        {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute"},
        {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute"},
        {"key": "node.kubernetes.io/disk-pressure", "operator": "Exists", "effect": "NoSchedule"},
        {"key": "node.kubernetes.io/memory-pressure", "operator": "Exists", "effect": "NoSchedule"},
        {"key": "node.kubernetes.io/pid-pressure", "operator": "Exists", "effect": "NoSchedule"},
        {"key": "node.kubernetes.io/unschedulable", "operator": "Exists", "effect": "NoSchedule"},
    ]

    def reconcile(self, rt: ResourceType, obj: Obj) -> None:
        spec, meta = obj.get("spec") or {}, obj["metadata"]
        tspec = copy_json((spec.get("template") or {}).get("spec") or {})
        tspec["tolerations"] = [*(tspec.get("tolerations") or []), *self._AUTO]
        nodes = [n for n in self.store.items(self.rt("", "Node")) if fits(n, tspec)]
        wanted = {n["metadata"]["name"] for n in nodes}
        revision = template_hash(spec.get("template") or {})
        have: dict[str, Obj] = {}
        for pod in self.pods(obj):
            node = (pod.get("spec") or {}).get("nodeName")
            if node not in wanted or node in have:
                self.delete_pod(pod, rt, obj)
            else:
                have[str(node)] = pod
        for node in sorted(wanted - set(have)):
            self.make_pod(rt, obj, None, {"controller-revision-hash": revision}, node=node)
        pods = [p for p in self.pods(obj) if not p["metadata"].get("deletionTimestamp")]
        n_ready = sum(1 for p in pods if ready(p))
        status = {
            "observedGeneration": meta.get("generation", 1),
            "desiredNumberScheduled": len(wanted),
            "currentNumberScheduled": len(pods),
            "numberReady": n_ready,
            "updatedNumberScheduled": len(pods),
            "numberAvailable": n_ready,
            "numberMisscheduled": 0,
        }
        if len(wanted) > n_ready:
            status["numberUnavailable"] = len(wanted) - n_ready
        self.write_status(rt, obj, status)

    def make_pod(
        self,
        rt: ResourceType,
        owner: Obj,
        name: str | None,
        extra_labels: Obj,
        node: str | None = None,
        claims: dict[str, str] | None = None,
    ) -> None:
        patched = copy_json(owner)
        tspec = patched.setdefault("spec", {}).setdefault("template", {}).setdefault("spec", {})
        tspec["tolerations"] = [*(tspec.get("tolerations") or []), *self._AUTO]
        super().make_pod(rt, patched, name, extra_labels, node, claims)


class JobController(PodOwner):
    kind = ("batch", "Job")

    def reconcile(self, rt: ResourceType, obj: Obj) -> None:
        spec = obj.get("spec") or {}
        old = obj.get("status") or {}
        if any(
            c.get("type") in ("Complete", "Failed") and c.get("status") == "True"
            for c in old.get("conditions") or []
        ):
            return
        if spec.get("suspend"):
            return
        completions = int(spec.get("completions", 1))
        parallelism = int(spec.get("parallelism", 1))
        pods = self.pods(obj)
        succeeded = sum(1 for p in pods if (p.get("status") or {}).get("phase") == "Succeeded")
        active = [p for p in pods if not finished(p)]
        for _ in range(min(parallelism, completions - succeeded) - len(active)):
            self.make_pod(rt, obj, None, {})
        pods = self.pods(obj)
        active = [p for p in pods if not finished(p)]
        status: Obj = {
            "startTime": old.get("startTime") or timestamp(),
            "active": len(active),
            "ready": sum(1 for p in active if ready(p)),
            "terminating": 0,
            "uncountedTerminatedPods": {},
        }
        if succeeded:
            status["succeeded"] = succeeded
        if not status["active"]:
            status.pop("active")
        if succeeded >= completions:
            now = timestamp()
            status["completionTime"] = now
            status["conditions"] = [
                {
                    "type": t,
                    "status": "True",
                    "lastProbeTime": now,
                    "lastTransitionTime": now,
                    "reason": "CompletionsReached",
                    "message": "Reached expected number of succeeded pods",
                }
                for t in ("SuccessCriteriaMet", "Complete")
            ]
            self.event(rt, obj, "Completed", "Job completed", component="job-controller")
        self.write_status(rt, obj, status)
