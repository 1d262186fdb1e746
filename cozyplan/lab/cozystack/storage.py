"""LINSTOR, volume binding and MetalLB on the lab cluster.

LINSTOR (once the ``linstor`` release is Ready): one ``LinstorSatellite`` per Node, Available;
``Configured`` only when every storage pool its ``LinstorSatelliteConfiguration``s ask for can
be made on devices that exist on the lab Proxmox VM playing that node (else the ZFS error LINSTOR
reports). PVCs of a LINSTOR StorageClass bind when enough nodes have the pool (``autoPlace``);
WaitForFirstConsumer classes only once a Pod uses the claim. MetalLB (once Ready) gives each
LoadBalancer Service the next free address of its pools.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator

from cozyplan.lab.cozystack.context import ClusterContext, Obj, condition, same_condition
from cozyplan.lab.cozystack.disks import find_vm, guest_devices

PIRAEUS = "piraeus.io/v1"
LINSTOR_CSI = "linstor.csi.linbit.com"


def _internal_ip(node: Obj) -> str | None:
    for addr in (node.get("status") or {}).get("addresses") or []:
        if addr.get("type") == "InternalIP":
            return str(addr.get("address"))
    return None


def _selects(config: Obj, node: Obj) -> bool:
    selector = (config.get("spec") or {}).get("nodeSelector") or {}
    labels = (node.get("metadata") or {}).get("labels") or {}
    labels = {
        **labels,
        "kubernetes.io/hostname": labels.get("kubernetes.io/hostname", node["metadata"]["name"]),
    }
    return all(labels.get(k) == v for k, v in selector.items())


class Linstor:
    def __init__(self, ctx: ClusterContext) -> None:
        self.ctx = ctx

    def pools(self) -> dict[str, list[str]]:
        """node -> pools LINSTOR has there."""
        found: dict[str, list[str]] = self.ctx.state.setdefault("pools", {})
        return found

    async def reconcile(self, ready: set[str]) -> None:
        c = self.ctx.client
        if "cozy-linstor/linstor" not in ready or await c.kind(PIRAEUS, "LinstorSatellite") is None:
            c.forget_kinds()
            return
        configs = await c.list(PIRAEUS, "LinstorSatelliteConfiguration")
        vms = self.ctx.world.data("proxmox").get("vms") or {}
        pools: dict[str, list[str]] = {}
        for node in await c.list("v1", "Node"):
            name = node["metadata"]["name"]
            vm = find_vm(vms, name, _internal_ip(node))
            devices = guest_devices((vm or {}).get("config") or {}) if vm else {}
            problems: list[str] = []
            made: list[str] = []
            for config in configs:
                if not _selects(config, node):
                    continue
                for pool in (config.get("spec") or {}).get("storagePools") or []:
                    wanted = ((pool.get("source") or {}).get("hostDevices")) or []
                    missing = [d for d in wanted if d not in devices]
                    zpool = ((pool.get("zfsPool") or {}).get("zPool")) or pool.get("name")
                    if vm is None:
                        problems.append(
                            f"(Node: '{name}') no lab VM plays this node: cannot create "
                            f"storage pool '{pool.get('name')}'"
                        )
                    elif missing:
                        problems.append(
                            f"(Node: '{name}') Failed to create storage pool "
                            f"'{pool.get('name')}': zpool create {zpool} {' '.join(wanted)} "
                            f"failed: cannot open '{missing[0]}': no such device in /dev"
                        )
                    else:
                        made.append(str(pool.get("name")))
            pools[name] = made
            satellite = await c.apply(
                {
                    "apiVersion": PIRAEUS,
                    "kind": "LinstorSatellite",
                    "metadata": {"name": name},
                    "spec": {"clusterRef": {"name": "linstorcluster"}},
                }
            )
            if satellite is None:
                continue
            available = condition("Available", "True", "SatelliteOnline", "Node is ONLINE")
            configured = (
                condition("Configured", "False", "StoragePoolFailed", "; ".join(problems))
                if problems
                else condition(
                    "Configured",
                    "True",
                    "AsExpected",
                    f"storage pools: {', '.join(made) or 'none'}",
                )
            )
            if not (same_condition(satellite, available) and same_condition(satellite, configured)):
                await c.patch_status(satellite, {"conditions": [available, configured]})
        self.ctx.state["pools"] = pools


class Volumes:
    def __init__(self, ctx: ClusterContext, linstor: Linstor) -> None:
        self.ctx = ctx
        self.linstor = linstor

    async def reconcile(self) -> None:
        c = self.ctx.client
        pvcs = [
            p
            for p in await c.list("v1", "PersistentVolumeClaim")
            if (p.get("status") or {}).get("phase") != "Bound"
        ]
        if not pvcs:
            return
        pods = await c.list("v1", "Pod")
        for pvc in pvcs:
            meta, spec = pvc["metadata"], pvc.get("spec") or {}
            sc_name = spec.get("storageClassName")
            sc = await c.get("storage.k8s.io/v1", "StorageClass", sc_name) if sc_name else None
            if sc is None or sc.get("provisioner") != LINSTOR_CSI:
                continue
            params = sc.get("parameters") or {}
            pool = params.get("linstor.csi.linbit.com/storagePool", "")
            need = int(params.get("linstor.csi.linbit.com/autoPlace", "1") or 1)
            have = [n for n, ps in self.linstor.pools().items() if pool in ps]
            if len(have) < need:
                continue
            if sc.get("volumeBindingMode") == "WaitForFirstConsumer" and not any(
                _uses(p, meta["namespace"], meta["name"]) for p in pods
            ):
                continue
            await self._bind(pvc, sc)

    async def _bind(self, pvc: Obj, sc: Obj) -> None:
        c = self.ctx.client
        meta, spec = pvc["metadata"], pvc.get("spec") or {}
        size = ((spec.get("resources") or {}).get("requests") or {}).get("storage", "1Gi")
        pv_name = f"pvc-{meta.get('uid')}"
        pv = await c.apply(
            {
                "apiVersion": "v1",
                "kind": "PersistentVolume",
                "metadata": {
                    "name": pv_name,
                    "annotations": {"pv.kubernetes.io/provisioned-by": LINSTOR_CSI},
                },
                "spec": {
                    "capacity": {"storage": size},
                    "accessModes": spec.get("accessModes") or ["ReadWriteOnce"],
                    "persistentVolumeReclaimPolicy": sc.get("reclaimPolicy", "Delete"),
                    "storageClassName": sc["metadata"]["name"],
                    "claimRef": {
                        "kind": "PersistentVolumeClaim",
                        "namespace": meta["namespace"],
                        "name": meta["name"],
                        "uid": meta.get("uid"),
                    },
                    "csi": {"driver": LINSTOR_CSI, "volumeHandle": pv_name},
                },
            }
        )
        if pv is not None:
            await c.patch_status(pv, {"phase": "Bound"})
        bound = await c.merge_patch(pvc, {"spec": {"volumeName": pv_name}})
        await c.patch_status(
            bound or pvc,
            {
                "phase": "Bound",
                "accessModes": spec.get("accessModes") or ["ReadWriteOnce"],
                "capacity": {"storage": size},
            },
        )


def _uses(pod: Obj, namespace: str, claim: str) -> bool:
    if pod["metadata"].get("namespace") != namespace:
        return False
    for vol in (pod.get("spec") or {}).get("volumes") or []:
        if ((vol.get("persistentVolumeClaim") or {}).get("claimName")) == claim:
            return True
    return False


def _addresses(pool: Obj) -> Iterator[ipaddress.IPv4Address]:
    for item in (pool.get("spec") or {}).get("addresses") or []:
        text = str(item)
        if "-" in text:
            first, last = (ipaddress.IPv4Address(p.strip()) for p in text.split("-", 1))
        else:
            net = ipaddress.IPv4Network(text, strict=False)
            first, last = net[0], net[-1]
        cur = first
        while cur <= last:
            yield cur
            cur += 1


class MetalLB:
    def __init__(self, ctx: ClusterContext) -> None:
        self.ctx = ctx

    async def reconcile(self, ready: set[str]) -> None:
        c = self.ctx.client
        if "cozy-metallb/metallb" not in ready:
            return
        pools = [
            p
            for p in await c.list("metallb.io/v1beta1", "IPAddressPool", "cozy-metallb")
            if (p.get("spec") or {}).get("autoAssign", True)
        ]
        adverts = await c.list("metallb.io/v1beta1", "L2Advertisement", "cozy-metallb")
        announced = {
            name for a in adverts for name in (a.get("spec") or {}).get("ipAddressPools") or []
        }
        if not adverts:
            return
        services = [
            s
            for s in await c.list("v1", "Service")
            if (s.get("spec") or {}).get("type") == "LoadBalancer"
        ]
        used: set[str] = set()
        for svc in services:
            for ing in ((svc.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []:
                used.add(str(ing.get("ip")))
        for svc in services:
            if ((svc.get("status") or {}).get("loadBalancer") or {}).get("ingress"):
                continue
            ip = self._next_free(pools, announced, used)
            if ip is None:
                continue
            used.add(ip)
            await c.patch_status(svc, {"loadBalancer": {"ingress": [{"ip": ip, "ipMode": "VIP"}]}})

    @staticmethod
    def _next_free(pools: list[Obj], announced: set[str], used: set[str]) -> str | None:
        for pool in pools:
            if announced and pool["metadata"]["name"] not in announced:
                continue
            for ip in _addresses(pool):
                if str(ip) not in used:
                    return str(ip)
        return None
