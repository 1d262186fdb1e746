"""The scheduler and the kubelets: a pending pod is bound to a node it fits on (or stays
Pending with the scheduler's reason), waits for its PersistentVolumeClaims, then runs after the
(scaled) ``pod_start`` latency. Pods of Jobs run to completion after ``job_run``. Images named
in the ``image_pull_errors`` option fail to pull; ``crashing_images`` crash-loop."""

from __future__ import annotations

import asyncio
import hashlib
from typing import Any

from cozyplan.lab.kube.controllers.base import Controller, Obj
from cozyplan.lab.kube.controllers.scheduling import fits, unschedulable_message
from cozyplan.lab.kube.jsoncopy import copy_json
from cozyplan.lab.kube.resources import ResourceType
from cozyplan.lab.kube.store import timestamp


def _cond(kind: str, status: bool, reason: str = "", message: str = "") -> Obj:
    out: Obj = {
        "type": kind,
        "status": "True" if status else "False",
        "lastProbeTime": None,
        "lastTransitionTime": timestamp(),
    }
    if reason:
        out["reason"] = reason
    if message:
        out["message"] = message
    return out


def _id(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def claims(pod: Obj) -> list[str]:
    return [
        str(v["persistentVolumeClaim"]["claimName"])
        for v in (pod.get("spec") or {}).get("volumes") or []
        if isinstance(v, dict) and isinstance(v.get("persistentVolumeClaim"), dict)
    ]


def finished(pod: Obj) -> bool:
    return (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed")


def ready(pod: Obj) -> bool:
    if pod["metadata"].get("deletionTimestamp"):
        return False
    return any(
        c.get("type") == "Ready" and c.get("status") == "True"
        for c in (pod.get("status") or {}).get("conditions") or []
    )


def _comparable(status: Obj) -> Any:
    """A pod status without the timestamps that change on every write."""
    s = copy_json(status)
    for c in s.get("conditions") or []:
        c.pop("lastTransitionTime", None)
    for c in s.get("containerStatuses") or []:
        for state in (c.get("state") or {}).values():
            if isinstance(state, dict):
                state.pop("startedAt", None)
                state.pop("finishedAt", None)
    return s


class PodController(Controller):
    watches = (("", "Pod"), ("", "Node"), ("", "PersistentVolumeClaim"))

    def __init__(self, cluster: Any) -> None:
        super().__init__(cluster)
        self.started: dict[str, float] = {}  # pod uid -> loop time its containers started

    def observe(self, kind: str, rt: ResourceType, obj: Obj, old: Obj | None) -> None:
        if rt.kind == "Pod":
            self.enqueue(rt, obj)
            return
        pod_rt = self.rt("", "Pod")
        node = obj["metadata"]["name"] if rt.kind == "Node" else None
        for pod in self.store.items(pod_rt):
            on_node = node is not None and (pod.get("spec") or {}).get("nodeName") == node
            if on_node or (pod.get("status") or {}).get("phase") != "Running":
                self.enqueue(pod_rt, pod)

    async def sync(self, rt: ResourceType, obj: Obj | None, namespace: str, name: str) -> None:
        if obj is None or rt.kind != "Pod":
            return
        if obj["metadata"].get("deletionTimestamp"):
            self.started.pop(obj["metadata"]["uid"], None)
            return
        if finished(obj):
            return
        node_name = (obj.get("spec") or {}).get("nodeName")
        if not node_name:
            self._schedule(rt, obj)
        elif self._node_down(node_name):
            self._mark_not_ready(rt, obj)
        elif not self._unbound_claims(obj):
            self._kubelet(rt, obj)

    # -- scheduler -----------------------------------------------------------------------------
    def _claim(self, pod: Obj, name: str) -> Obj | None:
        pvc_rt = self.rt("", "PersistentVolumeClaim")
        return self.store.find(pvc_rt, pod["metadata"]["namespace"], name)

    def _unbound_claims(self, pod: Obj) -> list[str]:
        out = []
        for c in claims(pod):
            pvc = self._claim(pod, c)
            if pvc is None or (pvc.get("status") or {}).get("phase") != "Bound":
                out.append(c)
        return out

    def _schedule(self, rt: ResourceType, pod: Obj) -> None:
        spec = pod.get("spec") or {}
        nodes = self.store.items(self.rt("", "Node"))
        fitting = [n for n in nodes if fits(n, spec)]
        missing = [c for c in claims(pod) if self._claim(pod, c) is None]
        if missing or not fitting:
            n = len(nodes)
            message = (
                f'0/{n} nodes are available: persistentvolumeclaim "{missing[0]}" not found. '
                f"preemption: 0/{n} nodes are available: {n} Preemption is not helpful for "
                "scheduling."
                if missing
                else unschedulable_message(nodes, spec)
            )
            status = copy_json(pod.get("status") or {})
            prev: Obj = next(
                (c for c in status.get("conditions") or [] if c.get("type") == "PodScheduled"), {}
            )
            if (prev.get("status"), prev.get("message")) != ("False", message):
                status.update(
                    phase="Pending",
                    conditions=[_cond("PodScheduled", False, "Unschedulable", message)],
                )
                self.write_status(rt, pod, status)
                self.event(
                    rt,
                    pod,
                    "FailedScheduling",
                    message,
                    warning=True,
                    component="default-scheduler",
                )
            return
        load = {n["metadata"]["name"]: 0 for n in fitting}
        for other in self.store.items(rt):
            node = (other.get("spec") or {}).get("nodeName")
            if node in load and not finished(other):
                load[node] += 1
        chosen = min(sorted(load), key=lambda n: load[n])
        pvc_rt = self.rt("", "PersistentVolumeClaim")
        for claim in claims(pod):  # WaitForFirstConsumer claims learn their node
            pvc = self._claim(pod, claim)
            if pvc is None or (pvc.get("status") or {}).get("phase") == "Bound":
                continue
            annotations = pvc["metadata"].get("annotations") or {}
            if annotations.get("volume.kubernetes.io/selected-node") != chosen:
                new = copy_json(pvc)
                new["metadata"].setdefault("annotations", {})[
                    "volume.kubernetes.io/selected-node"
                ] = chosen
                ns = pvc["metadata"]["namespace"]
                self.store.update(pvc_rt, ns, claim, new, "kube-scheduler")
        bound = copy_json(pod)
        bound["spec"]["nodeName"] = chosen
        meta = pod["metadata"]
        self.store.update(rt, meta["namespace"], meta["name"], bound, "kube-scheduler")
        fresh = self.store.get(rt, meta["namespace"], meta["name"])
        status = {
            "phase": "Pending",
            "conditions": [_cond("PodScheduled", True)],
            "qosClass": "BestEffort",
        }
        self.write_status(rt, fresh, status)
        self.event(
            rt,
            fresh,
            "Scheduled",
            f"Successfully assigned {meta['namespace']}/{meta['name']} to {chosen}",
            component="default-scheduler",
        )

    # -- kubelet -----------------------------------------------------------------------------
    def _container(
        self, c: Obj, uid: str, left: float, job: bool, began: float, start_time: str
    ) -> tuple[Obj, bool]:
        """A container's status and whether it is ready."""
        faults = self.cluster.faults
        image = str(c.get("image", ""))
        name = str(c.get("name"))
        entry: Obj = {
            "name": name,
            "image": image,
            "imageID": "",
            "ready": False,
            "started": False,
            "restartCount": 0,
        }
        if any(p and p in image for p in faults.option("image_pull_errors", []) or []):
            entry["state"] = {
                "waiting": {
                    "reason": "ImagePullBackOff",
                    "message": f'Back-off pulling image "{image}"',
                }
            }
            return entry, False
        if any(p and p in image for p in faults.option("crashing_images", []) or []):
            elapsed = max(0.0, asyncio.get_running_loop().time() - began)
            entry["restartCount"] = int(elapsed / max(faults.latency("pod_start"), 0.01))
            entry["state"] = {
                "waiting": {
                    "reason": "CrashLoopBackOff",
                    "message": f"back-off restarting failed container {name} in pod",
                }
            }
            entry["lastState"] = {"terminated": {"exitCode": 1, "reason": "Error"}}
            return entry, False
        if left > 0:
            entry["state"] = {"waiting": {"reason": "ContainerCreating"}}
            return entry, False
        entry["imageID"] = f"{image}@sha256:{_id(image)}"
        entry["containerID"] = f"containerd://{_id(uid + name)}"
        if job:
            entry["state"] = {
                "terminated": {
                    "exitCode": 0,
                    "reason": "Completed",
                    "startedAt": start_time,
                    "finishedAt": timestamp(),
                }
            }
            return entry, True
        entry.update(ready=True, started=True)
        entry["state"] = {"running": {"startedAt": timestamp()}}
        return entry, True

    def _kubelet(self, rt: ResourceType, pod: Obj) -> None:
        meta, spec = pod["metadata"], pod.get("spec") or {}
        uid = meta["uid"]
        job = any(r.get("kind") == "Job" for r in meta.get("ownerReferences") or [])
        loop = asyncio.get_running_loop()
        takes = self.cluster.faults.latency("job_run" if job else "pod_start")
        began = self.started.get(uid)
        if began is None:
            # a container already started before the lab (re)started keeps running: a lab
            # restart pauses the simulated world, it does not reboot its nodes
            statuses = (pod.get("status") or {}).get("containerStatuses") or []
            running = bool(statuses) and all(c.get("started") for c in statuses)
            began = self.started[uid] = loop.time() - (takes if running else 0.0)
        left = began + takes - loop.time()
        status = copy_json(pod.get("status") or {})
        status.setdefault("hostIP", self._node_ip(spec.get("nodeName", "")))
        digest = _id(uid)
        status.setdefault("podIP", f"10.244.{int(digest[:2], 16)}.{int(digest[2:4], 16) % 250 + 2}")
        status.setdefault("startTime", timestamp())
        results = [
            self._container(c, uid, left, job, began, status["startTime"])
            for c in spec.get("containers") or []
        ]
        all_ok = bool(results) and all(ok for _, ok in results)
        crashing = any("CrashLoopBackOff" in str(e.get("state")) for e, _ in results)
        phase = "Running" if left <= 0 or crashing else "Pending"
        if job and all_ok:
            phase = "Succeeded"
        ready_now = all_ok and not job
        reason, message = "", ""
        if not ready_now:
            reason = "PodCompleted" if phase == "Succeeded" else "ContainersNotReady"
            if phase != "Succeeded":
                names = " ".join(str(c.get("name")) for c in spec.get("containers") or [])
                message = f"containers with unready status: [{names}]"
        status["phase"] = phase
        status["conditions"] = [
            _cond("PodReadyToStartContainers", left <= 0),
            _cond("Initialized", True),
            _cond("Ready", ready_now, reason, message),
            _cond("ContainersReady", ready_now, reason, message),
            _cond("PodScheduled", True),
        ]
        status["containerStatuses"] = [e for e, _ in results]
        status.setdefault("qosClass", "BestEffort")
        if _comparable(pod.get("status") or {}) != _comparable(status):
            before = {
                c.get("name"): c for c in (pod.get("status") or {}).get("containerStatuses") or []
            }
            self.write_status(rt, pod, status)
            self._container_events(rt, pod, before, status["containerStatuses"])
        if left > 0 or crashing:
            wait = max(left, self.cluster.faults.latency("pod_start") if crashing else 0.0)
            self.later(
                max(wait, 0.01) / max(self.cluster.world.time_scale, 1e-9),
                rt,
                meta["namespace"],
                meta["name"],
            )

    def _container_events(
        self, rt: ResourceType, pod: Obj, before: dict[Any, Obj], after: list[Obj]
    ) -> None:
        meta = pod["metadata"]
        for c in after:
            name, image = c.get("name"), c.get("image")
            old = before.get(name) or {}
            waiting = (c.get("state") or {}).get("waiting") or {}
            old_waiting = (old.get("state") or {}).get("waiting") or {}
            if (
                waiting.get("reason") == "ImagePullBackOff"
                and old_waiting.get("reason") != "ImagePullBackOff"
            ):
                self.event(
                    rt,
                    pod,
                    "Failed",
                    f'Failed to pull image "{image}": rpc error: code = '
                    "NotFound desc = failed to pull and unpack image: not found",
                    warning=True,
                    component="kubelet",
                )
                self.event(
                    rt,
                    pod,
                    "BackOff",
                    f'Back-off pulling image "{image}"',
                    warning=True,
                    component="kubelet",
                )
            elif waiting.get("reason") == "CrashLoopBackOff":
                self.event(
                    rt,
                    pod,
                    "BackOff",
                    f"Back-off restarting failed container {name} in "
                    f"pod {meta['name']}_{meta['namespace']}({meta['uid']})",
                    warning=True,
                    component="kubelet",
                )
            elif (c.get("started") or "terminated" in (c.get("state") or {})) and not (
                old.get("started") or "terminated" in (old.get("state") or {})
            ):
                self.event(
                    rt,
                    pod,
                    "Pulled",
                    f'Container image "{image}" already present on machine',
                    component="kubelet",
                )
                self.event(rt, pod, "Created", f"Created container: {name}", component="kubelet")
                self.event(rt, pod, "Started", f"Started container {name}", component="kubelet")

    def _node_down(self, node: str) -> bool:
        found = self.store.find(self.rt("", "Node"), "", node)
        conditions = ((found or {}).get("status") or {}).get("conditions") or []
        return any(c.get("type") == "Ready" and c.get("status") == "Unknown" for c in conditions)

    def _mark_not_ready(self, rt: ResourceType, pod: Obj) -> None:
        """The node controller's MarkPodsNotReady: its kubelet is gone, its pods are not ready."""
        status = copy_json(pod.get("status") or {})
        changed = False
        for c in status.get("conditions") or []:
            if c.get("type") == "Ready" and c.get("status") != "False":
                c.update(status="False", lastTransitionTime=timestamp())
                changed = True
        if changed:
            self.write_status(rt, pod, status)
            self.event(
                rt,
                pod,
                "NodeNotReady",
                "Node is not ready",
                warning=True,
                component="node-controller",
            )

    def _node_ip(self, node: str) -> str:
        found = self.store.find(self.rt("", "Node"), "", node)
        for a in ((found or {}).get("status") or {}).get("addresses") or []:
            if a.get("type") == "InternalIP":
                return str(a.get("address"))
        return ""
