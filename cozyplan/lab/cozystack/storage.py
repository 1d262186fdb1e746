"""LINSTOR, volume binding and MetalLB on the lab cluster.

LINSTOR (once the ``linstor`` release is Ready): one ``LinstorSatellite`` per Node, Available;
``Configured`` only when every storage pool its ``LinstorSatelliteConfiguration``s ask for can
be made on devices that exist on the lab Proxmox VM playing that node (else the ZFS error LINSTOR
reports). PVCs of a LINSTOR StorageClass bind when enough nodes have the pool (``autoPlace``);
WaitForFirstConsumer classes only once a Pod uses the claim (other provisioners are left to the
lab's generic one: ``kube.provisioners``). MetalLB (once Ready): the announced pools' addresses
become the lab's LoadBalancer pool (``kube.lb_pool``), which its Service controller hands out.
"""

from __future__ import annotations

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

    async def _claim_linstor_classes(self) -> None:
        """The lab's generic provisioner binds every class but LINSTOR's (this one's)."""
        classes = await self.ctx.client.list("storage.k8s.io/v1", "StorageClass")
        others = sorted({str(sc.get("provisioner")) for sc in classes} - {LINSTOR_CSI})
        if self.ctx.state.get("provisioners") != others:
            await self.ctx.publish(
                "kube.provisioners", {"cluster_id": self.ctx.cluster_id, "provisioners": others}
            )
            self.ctx.state["provisioners"] = others

    async def reconcile(self) -> None:
        c = self.ctx.client
        await self._claim_linstor_classes()
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


class MetalLB:
    """MetalLB's speaker and controller, as the lab sees them: the addresses of the announced,
    auto-assigned ``IPAddressPool``s become the pool the lab's Service controller hands out."""

    def __init__(self, ctx: ClusterContext) -> None:
        self.ctx = ctx

    async def reconcile(self, ready: set[str]) -> None:
        c = self.ctx.client
        pool: list[str] = []
        if "cozy-metallb/metallb" in ready:
            pools = await c.list("metallb.io/v1beta1", "IPAddressPool", "cozy-metallb")
            adverts = await c.list("metallb.io/v1beta1", "L2Advertisement", "cozy-metallb")
            announced = {
                n for a in adverts for n in (a.get("spec") or {}).get("ipAddressPools") or []
            }
            for p in pools:
                spec = p.get("spec") or {}
                if (
                    adverts
                    and spec.get("autoAssign", True)
                    and (not announced or p["metadata"]["name"] in announced)
                ):
                    pool.extend(str(a) for a in spec.get("addresses") or [])
        if self.ctx.state.get("lb_pool") != pool:
            await self.ctx.publish(
                "kube.lb_pool", {"cluster_id": self.ctx.cluster_id, "pool": pool}
            )
            self.ctx.state["lb_pool"] = pool
