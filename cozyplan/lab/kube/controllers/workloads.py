"""Workload status as the deployment, daemonset, statefulset and job controllers report it:
a rollout starts at once (observedGeneration, Progressing) and its pods are ready after the
(scaled) ``pod_start`` latency, if any node can run them."""

from __future__ import annotations

import asyncio
import hashlib
import json
from typing import Any

from cozyplan.lab.kube.controllers.base import Controller, Obj
from cozyplan.lab.kube.controllers.nodes import schedulable_nodes
from cozyplan.lab.kube.resources import ResourceType
from cozyplan.lab.kube.store import timestamp


def _cond(kind: str, status: bool, reason: str, message: str, old: Obj) -> dict[str, Any]:
    prev: Obj = next((c for c in old.get("conditions", []) if c.get("type") == kind), {})
    value = "True" if status else "False"
    now = timestamp()
    changed = prev.get("status") != value
    return {
        "type": kind,
        "status": value,
        "lastUpdateTime": now,
        "lastTransitionTime": now if changed else prev.get("lastTransitionTime", now),
        "reason": reason,
        "message": message,
    }


def template_hash(obj: Obj) -> str:
    template = (obj.get("spec") or {}).get("template") or {}
    return hashlib.sha256(json.dumps(template, sort_keys=True).encode()).hexdigest()[:10]


class _Rollouts(Controller):
    def __init__(self, cluster: Any) -> None:
        super().__init__(cluster)
        #: (kind, namespace, name) -> (generation, loop time the rollout began)
        self.started: dict[tuple[str, str, str], tuple[int, float]] = {}

    def observe(self, kind: str, rt: ResourceType, obj: Obj, old: Obj | None) -> None:
        if rt.kind == "Node":  # node readiness changes where pods may run
            for w in self.watches:
                if w[1] != "Node":
                    wrt = self.rt(*w)
                    for item in self.store.items(wrt):
                        self.enqueue(wrt, item)
            return
        super().observe(kind, rt, obj, old)

    def elapsed(self, rt: ResourceType, obj: Obj) -> tuple[bool, float]:
        """(the rollout of this generation began earlier, seconds left until its pods are up)."""
        meta = obj["metadata"]
        ident = (rt.kind, meta.get("namespace", ""), meta["name"])
        loop = asyncio.get_running_loop()
        generation = int(meta.get("generation", 1))
        began = self.started.get(ident)
        fresh = began is None or began[0] != generation
        if fresh:
            self.started[ident] = (generation, loop.time())
            return False, self.cluster.faults.latency(self._latency)
        assert began is not None
        return True, max(0.0, began[1] + self.cluster.faults.latency(self._latency) - loop.time())

    _latency = "pod_start"


class WorkloadController(_Rollouts):
    watches = (
        ("apps", "Deployment"),
        ("apps", "DaemonSet"),
        ("apps", "StatefulSet"),
        ("apps", "ReplicaSet"),
        ("", "Node"),
    )

    async def sync(self, rt: ResourceType, obj: Obj | None, namespace: str, name: str) -> None:
        if obj is None or obj["metadata"].get("deletionTimestamp") or rt.kind == "Node":
            return
        spec, old = obj.get("spec") or {}, obj.get("status") or {}
        tspec = (spec.get("template") or {}).get("spec") or {}
        nodes = schedulable_nodes(self, tspec)
        if rt.kind == "DaemonSet":
            desired = len(self.store.items(self.rt("", "Node")))
            runnable = nodes
        else:
            desired = int(spec.get("replicas", 1))
            runnable = desired if nodes else 0
        _, left = self.elapsed(rt, obj)
        ready = runnable if left <= 0 else min(runnable, int(old.get("readyReplicas", 0) or 0))
        if left > 0 and ready < runnable:
            self.later(left / max(self.cluster.world.time_scale, 1e-9), rt, namespace, name)
        status = getattr(self, "_" + rt.kind.lower())(obj, desired, ready, old)
        self.write_status(rt, obj, status)

    def _deployment(self, obj: Obj, desired: int, ready: int, old: Obj) -> Obj:
        rs = f"{obj['metadata']['name']}-{template_hash(obj)[:10]}"
        available = ready >= desired
        status: Obj = {
            "observedGeneration": obj["metadata"].get("generation", 1),
            "replicas": desired,
            "updatedReplicas": desired,
            "readyReplicas": ready,
            "availableReplicas": ready,
        }
        if desired - ready > 0:
            status["unavailableReplicas"] = desired - ready
        status = {k: v for k, v in status.items() if v != 0 or k == "observedGeneration"}
        status["conditions"] = [
            _cond(
                "Available",
                available,
                "MinimumReplicasAvailable" if available else "MinimumReplicasUnavailable",
                "Deployment has minimum availability."
                if available
                else "Deployment does not have minimum availability.",
                old,
            ),
            _cond(
                "Progressing",
                True,
                "NewReplicaSetAvailable" if available else "ReplicaSetUpdated",
                f'ReplicaSet "{rs}" has successfully progressed.'
                if available
                else f'ReplicaSet "{rs}" is progressing.',
                old,
            ),
        ]
        return status

    def _replicaset(self, obj: Obj, desired: int, ready: int, old: Obj) -> Obj:
        return {
            "observedGeneration": obj["metadata"].get("generation", 1),
            "replicas": desired,
            "fullyLabeledReplicas": desired,
            "readyReplicas": ready,
            "availableReplicas": ready,
        }

    def _statefulset(self, obj: Obj, desired: int, ready: int, old: Obj) -> Obj:
        revision = f"{obj['metadata']['name']}-{template_hash(obj)[:10]}"
        return {
            "observedGeneration": obj["metadata"].get("generation", 1),
            "replicas": desired,
            "readyReplicas": ready,
            "currentReplicas": desired,
            "updatedReplicas": desired,
            "availableReplicas": ready,
            "currentRevision": revision,
            "updateRevision": revision,
            "collisionCount": 0,
        }

    def _daemonset(self, obj: Obj, desired: int, ready: int, old: Obj) -> Obj:
        return {
            "observedGeneration": obj["metadata"].get("generation", 1),
            "desiredNumberScheduled": desired,
            "currentNumberScheduled": ready,
            "numberReady": ready,
            "updatedNumberScheduled": ready,
            "numberAvailable": ready,
            "numberMisscheduled": 0,
            **({"numberUnavailable": desired - ready} if desired > ready else {}),
        }


class JobController(_Rollouts):
    watches = (("batch", "Job"), ("", "Node"))
    _latency = "job_run"

    async def sync(self, rt: ResourceType, obj: Obj | None, namespace: str, name: str) -> None:
        if obj is None or rt.kind == "Node" or obj["metadata"].get("deletionTimestamp"):
            return
        old = obj.get("status") or {}
        if any(c.get("type") == "Complete" for c in old.get("conditions", [])):
            return
        spec = obj.get("spec") or {}
        if spec.get("suspend"):
            return
        tspec = (spec.get("template") or {}).get("spec") or {}
        _, left = self.elapsed(rt, obj)
        if not schedulable_nodes(self, tspec):
            self.write_status(
                rt,
                obj,
                {
                    "startTime": old.get("startTime", timestamp()),
                    "active": 1,
                    "ready": 0,
                    "terminating": 0,
                },
            )
            return
        if left > 0:
            self.write_status(
                rt,
                obj,
                {
                    "startTime": old.get("startTime", timestamp()),
                    "active": 1,
                    "ready": 1,
                    "terminating": 0,
                },
            )
            self.later(left / max(self.cluster.world.time_scale, 1e-9), rt, namespace, name)
            return
        now = timestamp()
        done = [
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
        self.write_status(
            rt,
            obj,
            {
                "startTime": old.get("startTime", now),
                "completionTime": now,
                "succeeded": int(spec.get("completions", 1)),
                "ready": 0,
                "terminating": 0,
                "conditions": done,
                "uncountedTerminatedPods": {},
            },
        )
