"""The lab's Talos nodes: one apid per node, booted by Proxmox VM events or on demand."""

from __future__ import annotations

import asyncio
import ipaddress
import re
from typing import TYPE_CHECKING, Any

from cozyplan.lab.framework import LabError, Simulator
from cozyplan.lab.talos.params import API_PORT, BOOT_SECONDS, ETCD_JOIN_SECONDS

if TYPE_CHECKING:
    from cozyplan.lab.talos.machineconfig import NodeConfig
    from cozyplan.lab.talos.node import SimNode

_VERSION = re.compile(r"v\d+\.\d+\.\d+")
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HOSTNAME = re.compile(rf"^{_LABEL}(?:\.{_LABEL})*$")
#: Talos v1.10 needs x86-64-v2; Proxmox's default CPU type kvm64 lacks it
KVM64_FAULT = (
    "Talos does not boot on CPU type kvm64 (it needs x86-64-v2; set cpu: host): the console "
    "shows a kernel panic and the node never answers on :50000"
)


def valid_host(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        return len(host) <= 253 and bool(_HOSTNAME.match(host))


class TalosSimulator(Simulator):
    name = "talos"
    server_modules = ("cozyplan.lab.talos.node",)

    def __init__(self, world: Any) -> None:
        super().__init__(world)
        self.data: dict[str, Any] = world.data("talos")
        self.records: dict[str, dict[str, Any]] = self.data.setdefault("nodes", {})
        self.nodes: dict[str, SimNode] = {}
        self._joining: dict[str, asyncio.Task[None]] = {}

    @classmethod
    def serves(cls, data: dict[str, Any]) -> bool:
        return bool(data.get("nodes"))

    def _node(self, ip: str, **defaults: Any) -> SimNode:
        node = self.nodes.get(ip)
        if node is None:
            if not valid_host(ip):
                # it names the node's certificate directory too: never a path
                raise LabError(f"{ip!r} is not an IP address or host name")
            # the gRPC machine API loads with the first node, not with every lab
            from cozyplan.lab.talos.node import SimNode

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
        for task in list(self._joining.values()):
            task.cancel()
        for node in self.nodes.values():
            await node.stop()
        self.world.save()

    def _download_url(self, image: str) -> str:
        """The URL the lab's Proxmox downloaded ``image`` from (read-only, when it did)."""
        volumes = self.world.data("proxmox").get("volumes", {})
        for volid, vol in volumes.items():
            if str(volid).endswith("/" + image) and isinstance(vol, dict):
                return str(vol.get("url") or "")
        return ""

    async def _on_vm(self, event: str, payload: dict[str, Any]) -> None:
        vms: dict[str, dict[str, Any]] = self.data.setdefault("vms", {})
        key = str(payload.get("vmid"))
        addresses = [str(a) for a in payload.get("ipv4") or []]
        if event == "vm.started":
            await self._vm_started(key, payload, addresses)
            return
        vm = vms.pop(key, None) if event == "vm.deleted" else vms.get(key)
        ip = addresses[0] if addresses else (vm or {}).get("address")
        known = self.nodes.get(str(ip)) if ip else None
        if known is None:
            self.world.save()
            return
        cfg = known.config
        if cfg is not None:  # its kubelet stops posting status
            await self.world.publish(
                "talos.node_down", {"cluster_id": cfg.cluster_id, "hostname": known.hostname}
            )
        await known.stop(release=event == "vm.deleted")
        if event == "vm.deleted":
            self.nodes.pop(known.ip, None)
            self.records.pop(known.ip, None)
            self.world.unregister_endpoint("talos", known.ip, API_PORT)
        else:
            known.record["powered"] = False
        self.world.save()

    async def _vm_started(self, key: str, payload: dict[str, Any], addresses: list[str]) -> None:
        image = str(payload.get("image") or "")
        if "talos" not in image.lower():
            return
        from cozyplan.lab.talos import factory

        name = str(payload.get("name") or f"VM {key}")
        schematic, extensions = factory.extensions_of(self._download_url(image), image)
        # ``cpu``/``cloudinit`` come with the Proxmox lab's vm.started; absent: not modelled
        cpu = payload.get("cpu")
        vm: dict[str, Any] = {"name": name, "image": image, "cpu": cpu, "address": None}
        self.data["vms"][key] = vm
        if not addresses:
            if payload.get("cloudinit") is False:
                vm["message"] = (
                    f"VM {key} ({name}) booted Talos without a cloud-init drive: nocloud found "
                    "no network config, so ipconfig0 was not applied and the node has no "
                    "static address"
                )
            self.world.save()
            return
        ip = vm["address"] = addresses[0]
        found = _VERSION.search(image)
        node = self._node(
            ip,
            source="vm",
            vmid=payload.get("vmid"),
            hostname=payload.get("name"),
            talos_version=found.group(0) if found else "v1.10.6",
        )
        node.record.update(
            powered=True,
            image=image,
            schematic=schematic,
            extensions=None if extensions is None else list(extensions),
            fault=KVM64_FAULT if cpu == "kvm64" else None,
        )
        self.world.save()
        node.reboot(BOOT_SECONDS)  # powering on: the node answers once it has booted

    async def ensure_endpoint(self, service: str, host: str, port: int) -> tuple[str, int] | None:
        if service != "talos" or port != API_PORT:
            return None
        node = self.nodes.get(host)
        if node is None:
            if self.data.get("vms"):
                return None  # VMs boot this world's nodes: an address no VM has, nobody has
            node = self._node(host, source="on-demand")
        if node.record.get("powered", True) and not node.up and not node.booting:
            await node.boot()
        return node.claim()  # bound before it is handed out

    # -- called by nodes ---------------------------------------------------------------------
    def controlplanes(self, cluster_id: str) -> list[tuple[str, str]]:
        out = []
        for ip, node in sorted(self.nodes.items()):
            cfg = node.config
            if cfg is not None and cfg.cluster_id == cluster_id and cfg.controlplane:
                out.append((node.hostname, ip))
        return out

    def etcd_members(self, cluster_id: str) -> list[tuple[str, str]]:
        """(hostname, address) of the cluster's etcd members, in join order."""
        cluster = self.data.get("clusters", {}).get(cluster_id, {})
        if not cluster.get("bootstrapped_on"):
            return []
        members = cluster.get("members")
        if members is None:  # a world saved before membership was tracked
            return self.controlplanes(cluster_id)
        return [(str(name), ip) for ip, name in members.items()]

    def join_etcd(self, node: SimNode) -> None:
        """A control plane of a bootstrapped cluster joins etcd a while after it is up."""
        cfg = node.config
        if cfg is None or not cfg.controlplane or node.ip in self._joining:
            return
        cluster = self.data.get("clusters", {}).get(cfg.cluster_id)
        if not cluster or not cluster.get("bootstrapped_on"):
            return
        members: dict[str, str] = cluster.setdefault("members", {})
        if node.ip in members:
            return

        async def join() -> None:
            try:
                await self.world.sleep(ETCD_JOIN_SECONDS)
                now = node.config
                if node.up and now is not None and now.cluster_id == cfg.cluster_id:
                    members[node.ip] = node.hostname
                    self.world.save()
            finally:
                self._joining.pop(node.ip, None)

        self._joining[node.ip] = asyncio.get_running_loop().create_task(join())

    def os_ca_key(self, cluster_id: str) -> bytes:
        """The cluster's OS CA key, from any control plane's config this lab holds."""
        for node in self.nodes.values():
            cfg = node.config
            if cfg is not None and cfg.cluster_id == cluster_id and cfg.os_ca_key:
                return cfg.os_ca_key
        return b""

    def bootstrapped(self, node: SimNode, cfg: NodeConfig) -> None:
        for other in self.nodes.values():
            if other is not node and other.up:
                self.join_etcd(other)
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

    def messages(self) -> list[str]:
        """What a console or ``talosctl dmesg`` would show is wrong, node by node."""
        out = [str(vm["message"]) for vm in self.data.get("vms", {}).values() if vm.get("message")]
        for ip, node in sorted(self.nodes.items()):
            if node.fault:
                out.append(f"{ip}: {node.fault}")
            out += [f"{ip}: {err}" for err in node.module_errors()]
        return out

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
            "messages": self.messages(),
            "bootstrap_calls": sum(n["bootstrap_calls"] for n in nodes.values()),
            "clusters": {
                cid: {"name": c.get("name"), "bootstrapped_on": c.get("bootstrapped_on")}
                for cid, c in self.data.get("clusters", {}).items()
            },
        }
