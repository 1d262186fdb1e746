"""The deployment controller: one ReplicaSet per pod template (``name-hash``), the current one
scaled to the replicas and the old ones to zero; status and Available/Progressing conditions
from the ReplicaSets, Available once ``replicas - maxUnavailable`` pods are ready."""

from __future__ import annotations

import math
from typing import Any

from cozyplan.lab.kube.controllers.base import MANAGER, Controller, Obj
from cozyplan.lab.kube.controllers.owners import condition, controlled_by, owner_ref, template_hash
from cozyplan.lab.kube.jsoncopy import copy_json
from cozyplan.lab.kube.resources import ResourceType


def _resolve(value: Any, total: int, round_up: bool) -> int:
    if isinstance(value, str) and value.endswith("%"):
        share = total * int(value[:-1]) / 100
        return math.ceil(share) if round_up else math.floor(share)
    return int(value or 0)


class DeploymentController(Controller):
    watches = (("apps", "Deployment"), ("apps", "ReplicaSet"))

    def observe(self, kind: str, rt: ResourceType, obj: Obj, old: Obj | None) -> None:
        if rt.kind == "Deployment":
            self.enqueue(rt, obj)
            return
        deploy_rt = self.rt("apps", "Deployment")
        for ref in obj["metadata"].get("ownerReferences") or []:
            if ref.get("controller") and ref.get("kind") == "Deployment":
                owner = self.store.find(
                    deploy_rt, obj["metadata"]["namespace"], str(ref.get("name"))
                )
                if owner is not None:
                    self.enqueue(deploy_rt, owner)

    def _scaled(self, rt: ResourceType, obj: Obj, rs: str, before: int, after: int) -> None:
        way = "up" if after > before else "down"
        self.event(
            rt,
            obj,
            "ScalingReplicaSet",
            f"Scaled {way} replica set {rs} from {before} to {after}",
            component="deployment-controller",
        )

    async def sync(self, rt: ResourceType, obj: Obj | None, namespace: str, name: str) -> None:
        if obj is None or rt.kind != "Deployment" or obj["metadata"].get("deletionTimestamp"):
            return
        spec, meta = obj.get("spec") or {}, obj["metadata"]
        rs_rt = self.rt("apps", "ReplicaSet")
        replicas = int(spec.get("replicas", 1))
        template = copy_json(spec.get("template") or {})
        hash_ = template_hash(template)
        rs_name = f"{name}-{hash_}"
        owned = [r for r in self.store.items(rs_rt, namespace) if controlled_by(r, meta["uid"])]
        current = next((r for r in owned if r["metadata"]["name"] == rs_name), None)
        if current is None:
            template.setdefault("metadata", {}).setdefault("labels", {})["pod-template-hash"] = (
                hash_
            )
            selector = copy_json(spec.get("selector") or {})
            selector.setdefault("matchLabels", {})["pod-template-hash"] = hash_
            body = {
                "metadata": {
                    "name": rs_name,
                    "labels": {**(template["metadata"].get("labels") or {})},
                    "annotations": {
                        "deployment.kubernetes.io/revision": str(len(owned) + 1),
                        "deployment.kubernetes.io/desired-replicas": str(replicas),
                    },
                    "ownerReferences": [owner_ref(rt, obj)],
                },
                "spec": {"replicas": replicas, "selector": selector, "template": template},
            }
            current = self.store.create(rs_rt, namespace, body, MANAGER)
            self._scaled(rt, obj, rs_name, 0, replicas)
        elif (current.get("spec") or {}).get("replicas") != replicas:
            new = copy_json(current)
            before = int(new["spec"].get("replicas", 0))
            new["spec"]["replicas"] = replicas
            current = self.store.update(rs_rt, namespace, rs_name, new, MANAGER)
            self._scaled(rt, obj, rs_name, before, replicas)
        for old in owned:
            if old["metadata"]["name"] != rs_name and (old.get("spec") or {}).get("replicas"):
                scaled = copy_json(old)
                before = int(scaled["spec"]["replicas"])
                scaled["spec"]["replicas"] = 0
                self.store.update(rs_rt, namespace, old["metadata"]["name"], scaled, MANAGER)
                self._scaled(rt, obj, old["metadata"]["name"], before, 0)
        owned = [r for r in self.store.items(rs_rt, namespace) if controlled_by(r, meta["uid"])]
        total = sum(int((r.get("status") or {}).get("replicas", 0)) for r in owned)
        ready = sum(int((r.get("status") or {}).get("readyReplicas", 0)) for r in owned)
        cur_status = (self.store.find(rs_rt, namespace, rs_name) or {}).get("status") or {}
        updated = int(cur_status.get("replicas", 0))
        rolling = (spec.get("strategy") or {}).get("rollingUpdate") or {}
        max_unavailable = _resolve(rolling.get("maxUnavailable", "25%"), replicas, False)
        available = ready >= replicas - max_unavailable
        complete = updated == replicas and ready >= replicas and total == replicas
        old_status = obj.get("status") or {}
        status: Obj = {
            "observedGeneration": meta.get("generation", 1),
            "replicas": total,
            "updatedReplicas": updated,
            "readyReplicas": ready,
            "availableReplicas": ready,
        }
        status = {k: v for k, v in status.items() if v or k == "observedGeneration"}
        if max(replicas, total) - ready > 0:
            status["unavailableReplicas"] = max(replicas, total) - ready
        status["conditions"] = [
            condition(
                "Available",
                available,
                "MinimumReplicasAvailable" if available else "MinimumReplicasUnavailable",
                "Deployment has minimum availability."
                if available
                else "Deployment does not have minimum availability.",
                old_status,
            ),
            condition(
                "Progressing",
                True,
                "NewReplicaSetAvailable" if complete else "ReplicaSetUpdated",
                f'ReplicaSet "{rs_name}" has successfully progressed.'
                if complete
                else f'ReplicaSet "{rs_name}" is progressing.',
                old_status,
            ),
        ]
        fresh = self.store.find(rt, namespace, name)
        if fresh is not None:
            self.write_status(rt, fresh, status)
