"""Nodes of the cluster: one Node per lab Talos node that joined it, NotReady (network plugin
not initialised, ``node.kubernetes.io/not-ready`` taint) until a CNI is reported installed."""

from __future__ import annotations

from typing import Any

from cozyplan.lab.kube.controllers.base import Controller, Obj
from cozyplan.lab.kube.discovery import KUBE_VERSION
from cozyplan.lab.kube.jsoncopy import copy_json
from cozyplan.lab.kube.resources import ResourceType
from cozyplan.lab.kube.store import timestamp

NOT_READY_TAINT = {"key": "node.kubernetes.io/not-ready", "effect": "NoSchedule"}
UNREACHABLE = "node.kubernetes.io/unreachable"
_GONE = "Kubelet stopped posting node status."
_NOT_READY_MESSAGE = (
    "container runtime network not ready: NetworkReady=false reason:NetworkPluginNotReady "
    "message:Network plugin returns error: cni plugin not initialized"
)


class NodeController(Controller):
    watches = (("", "Node"),)

    @property
    def members(self) -> dict[str, dict[str, Any]]:
        found: dict[str, dict[str, Any]] = self.cluster.record.setdefault("nodes", {})
        return found

    def start(self) -> None:
        super().start()
        self.reconcile()

    def reconcile(self) -> None:
        node_rt = self.rt("", "Node")
        for name, info in sorted(self.members.items()):
            if self.store.find(node_rt, "", name) is None:
                self.store.create(node_rt, "", self._node(name, info), "kubelet")
            obj = self.store.find(node_rt, "", name)
            if obj is not None:
                self.enqueue(node_rt, obj)

    def _node(self, name: str, info: dict[str, Any]) -> Obj:
        labels = {
            "kubernetes.io/hostname": name,
            "kubernetes.io/os": "linux",
            "kubernetes.io/arch": "amd64",
            "beta.kubernetes.io/os": "linux",
            "beta.kubernetes.io/arch": "amd64",
        }
        if info.get("role") in ("controlplane", "init"):
            labels["node-role.kubernetes.io/control-plane"] = ""
        return {
            "metadata": {"name": name, "labels": labels},
            "spec": {"taints": [{**NOT_READY_TAINT, "timeAdded": timestamp()}]},
        }

    def wanted(self, info: dict[str, Any]) -> str:
        """The Ready status the node should show: True, False (no CNI) or Unknown (down)."""
        if not info.get("up", True):
            return "Unknown"
        return "True" if self.cluster.record.get("cni_ready") else "False"

    async def sync(self, rt: ResourceType, obj: Obj | None, namespace: str, name: str) -> None:
        info = self.members.get(name)
        if obj is None or info is None:
            return
        want = self.wanted(info)
        conditions = (obj.get("status") or {}).get("conditions", [])
        cur = next((c for c in conditions if c.get("type") == "Ready"), None)
        if cur is not None and cur.get("status") == want:
            return
        if want == "True" and cur is not None:
            await self.cluster.world.sleep(self.cluster.faults.simulated("node_ready"))
            obj = self.store.find(rt, "", name) or obj
        self._write(rt, obj, info, self.wanted(info))

    def _taints(self, obj: Obj, state: str, now: str) -> list[Obj]:
        keys = (NOT_READY_TAINT["key"], UNREACHABLE)
        taints = [
            t for t in (obj.get("spec") or {}).get("taints") or [] if t.get("key") not in keys
        ]
        if state == "False":
            taints.append({**NOT_READY_TAINT, "timeAdded": now})
        elif state == "Unknown":
            taints += [
                {"key": UNREACHABLE, "effect": e, "timeAdded": now}
                for e in ("NoSchedule", "NoExecute")
            ]
        return taints

    def _write(self, rt: ResourceType, obj: Obj, info: dict[str, Any], state: str) -> None:
        now = timestamp()
        new = copy_json(obj)
        taints = self._taints(obj, state, now)
        new.setdefault("spec", {})["taints"] = taints
        if not taints:
            new["spec"].pop("taints")
        name = obj["metadata"]["name"]
        self.store.update(rt, "", name, new, "kubelet")
        fresh = self.store.get(rt, "", name)
        down = state == "Unknown"
        pressure = [
            {
                "type": t,
                "status": "Unknown" if down else "False",
                "lastHeartbeatTime": now,
                "lastTransitionTime": now,
                "reason": "NodeStatusUnknown" if down else f"KubeletHasSufficient{r}",
                "message": _GONE if down else f"kubelet has sufficient {m}",
            }
            for t, r, m in (
                ("MemoryPressure", "Memory", "memory available"),
                ("DiskPressure", "Disk", "disk space available"),
                ("PIDPressure", "PID", "PID available"),
            )
        ]
        reason, message = {
            "True": ("KubeletReady", "kubelet is posting ready status"),
            "False": ("KubeletNotReady", _NOT_READY_MESSAGE),
            "Unknown": ("NodeStatusUnknown", _GONE),
        }[state]
        ready_cond = {
            "type": "Ready",
            "status": state,
            "lastHeartbeatTime": now,
            "lastTransitionTime": now,
            "reason": reason,
            "message": message,
        }
        status = {
            "conditions": [*pressure, ready_cond],
            "addresses": [
                {"type": "InternalIP", "address": info.get("ip", "")},
                {"type": "Hostname", "address": name},
            ],
            "capacity": {"cpu": "4", "memory": "8Gi", "pods": "110", "ephemeral-storage": "50Gi"},
            "allocatable": {
                "cpu": "4",
                "memory": "7800Mi",
                "pods": "110",
                "ephemeral-storage": "48Gi",
            },
            "nodeInfo": {
                "kubeletVersion": KUBE_VERSION,
                "kubeProxyVersion": KUBE_VERSION,
                "osImage": f"Talos ({info.get('talos_version', 'v1.10.6')})",
                "operatingSystem": "linux",
                "architecture": "amd64",
                "containerRuntimeVersion": "containerd://2.0.5",
                "kernelVersion": "6.12.40-talos",
                "machineID": "",
                "systemUUID": "",
                "bootID": "",
            },
        }
        self.write_status(rt, fresh, status)
        text = {"True": "NodeReady", "False": "NodeNotReady", "Unknown": "NodeNotReady"}[state]
        self.event(
            rt,
            self.store.get(rt, "", name),
            text,
            f"Node {name} status is now: {text}",
            component="kubelet",
        )
