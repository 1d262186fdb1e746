"""The lab's Talos nodes: one apid per node, booted by Proxmox VM events or on demand."""

from __future__ import annotations

import asyncio
import re
from typing import Any

from cozyplan.lab.framework import Simulator
from cozyplan.lab.talos.machineconfig import NodeConfig
from cozyplan.lab.talos.node import API_PORT, BOOT_SECONDS, SimNode

_VERSION = re.compile(r"v\d+\.\d+\.\d+")


class TalosSimulator(Simulator):
    name = "talos"

    def __init__(self, world: Any) -> None:
        super().__init__(world)
        self.data: dict[str, Any] = world.data("talos")
        self.records: dict[str, dict[str, Any]] = self.data.setdefault("nodes", {})
        self.nodes: dict[str, SimNode] = {}

    def _node(self, ip: str, **defaults: Any) -> SimNode:
        node = self.nodes.get(ip)
        if node is None:
            record = self.records.setdefault(ip, {"powered": True, **defaults})
            node = self.nodes[ip] = SimNode(self, ip, record)
        return node

    async def start(self) -> None:
        for event in ("vm.started", "vm.stopped", "vm.deleted"):
            self.world.subscribe(event, self._on_vm)
        for ip, record in list(self.records.items()):
            node = self._node(ip)
            if record.get("powered", True):
                await node.boot()

    async def stop(self) -> None:
        for node in self.nodes.values():
            await node.stop()
        self.world.save()

    async def _on_vm(self, event: str, payload: dict[str, Any]) -> None:
        addresses = [str(a) for a in payload.get("ipv4") or []]
        if not addresses:
            return
        ip = addresses[0]
        if event == "vm.started":
            image = str(payload.get("image") or "")
            if "talos" not in image.lower():
                return
            found = _VERSION.search(image)
            node = self._node(
                ip,
                source="vm",
                vmid=payload.get("vmid"),
                hostname=payload.get("name"),
                talos_version=found.group(0) if found else "v1.10.6",
            )
            node.record["powered"] = True
            self.world.save()
            node.reboot(BOOT_SECONDS)  # powering on: the node answers once it has booted
            return
        known = self.nodes.get(ip)
        if known is None:
            return
        cfg = known.config
        if cfg is not None:  # its kubelet stops posting status
            await self.world.publish(
                "talos.node_down", {"cluster_id": cfg.cluster_id, "hostname": known.hostname}
            )
        await known.stop()
        if event == "vm.deleted":
            self.nodes.pop(ip, None)
            self.records.pop(ip, None)
            self.world.unregister_endpoint("talos", ip, API_PORT)
        else:
            known.record["powered"] = False
        self.world.save()

    async def ensure_endpoint(self, service: str, host: str, port: int) -> tuple[str, int] | None:
        if service != "talos" or port != API_PORT:
            return None
        node = self._node(host, source="on-demand")
        if node.record.get("powered", True) and not node.up and not node.booting:
            await node.boot()
        return node.loopback, node.port

    # -- called by nodes ---------------------------------------------------------------------
    def controlplanes(self, cluster_id: str) -> list[tuple[str, str]]:
        out = []
        for ip, node in sorted(self.nodes.items()):
            cfg = node.config
            if cfg is not None and cfg.cluster_id == cluster_id and cfg.controlplane:
                out.append((node.hostname, ip))
        return out

    def os_ca_key(self, cluster_id: str) -> bytes:
        """The cluster's OS CA key, from any control plane's config this lab holds."""
        for node in self.nodes.values():
            cfg = node.config
            if cfg is not None and cfg.cluster_id == cluster_id and cfg.os_ca_key:
                return cfg.os_ca_key
        return b""

    def bootstrapped(self, node: SimNode, cfg: NodeConfig) -> None:
        # for a lab Kubernetes API: which cluster came up, where, and with which CA
        payload = {
            "cluster_id": cfg.cluster_id,
            "cluster_name": cfg.cluster_name,
            "endpoint": cfg.endpoint,
            "node": node.ip,
            "k8s_ca_crt": cfg.k8s_ca_crt.decode(),
            "k8s_ca_key": cfg.k8s_ca_key.decode(),
        }
        asyncio.get_running_loop().create_task(self.world.publish("talos.bootstrapped", payload))

    def node_up(self, node: SimNode, cfg: NodeConfig) -> None:
        # a configured node runs its kubelet: a lab Kubernetes API lists it as a Node
        payload = {
            "cluster_id": cfg.cluster_id,
            "node": node.ip,
            "hostname": node.hostname,
            "machine_type": cfg.machine_type,
            "talos_version": node.talos_version,
        }
        asyncio.get_running_loop().create_task(self.world.publish("talos.node_up", payload))

    def status(self) -> dict[str, Any]:
        nodes = {ip: node.status() for ip, node in sorted(self.nodes.items())}
        return {
            "nodes": nodes,
            "bootstrap_calls": sum(n["bootstrap_calls"] for n in nodes.values()),
            "clusters": {
                cid: {"name": c.get("name"), "bootstrapped_on": c.get("bootstrapped_on")}
                for cid, c in self.data.get("clusters", {}).items()
            },
        }
