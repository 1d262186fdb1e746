"""proxmox-csi-plugin v0.15's controller, as a client of the lab's Kubernetes API and of the
lab's Proxmox VE with the token of its ``config.yaml`` (``clusters[]``).

Once its HelmRelease is Ready, a bound PersistentVolume of driver ``csi.proxmox.sinextra.dev``
gets its Proxmox volume: ``vm-9999-<pv>`` allocated on the class's ``storage`` of the zone
(``POST /nodes/{zone}/storage/{storage}/content``, owned by placeholder VM 9999 as upstream's
``createVolume``) and attached to the VM of the consuming pod's node as the next free
``scsiN`` with a ``wwn`` (``attachVolume``). The node must carry
``topology.kubernetes.io/region``/``zone`` labels naming a configured cluster and the Proxmox
node. A volume whose PersistentVolume is gone is detached and deleted. Failures (Proxmox's
``Permission check failed`` among them) are recorded on the PV as an Event-like annotation.

Simplified: the lab's generic provisioner creates and binds the PV (the CSI external-provisioner
sidecar does upstream); this controller does the Proxmox side of CreateVolume/Publish/Delete.
"""

from __future__ import annotations

import base64
from typing import Any
from urllib.parse import urlparse

from cozyplan import plainyaml
from cozyplan.lab.cozystack import flux
from cozyplan.lab.cozystack.context import ClusterContext, Obj
from cozyplan.lab.cozystack.pve import Pve, PveError

DRIVER = "csi.proxmox.sinextra.dev"
CHART = "proxmox-csi-plugin"
PLACEHOLDER_VMID = 9999
REGION = "topology.kubernetes.io/region"
ZONE = "topology.kubernetes.io/zone"
VOLUME_ANNOTATION = f"{DRIVER}/volume"
ERROR_ANNOTATION = f"{DRIVER}/error"


def _size_mib(text: str) -> int:
    units = {"Ki": 1 / 1024, "Mi": 1, "Gi": 1024, "Ti": 1024**2, "M": 1e6 / 2**20, "G": 1e9 / 2**20}
    for suffix, factor in units.items():
        if text.endswith(suffix):
            return max(1, int(float(text[: -len(suffix)]) * factor))
    return max(1, int(int(text) / 2**20))


def _wwn(lun: int) -> str:
    return "0x" + f"PVC-ID{lun:02d}".encode().hex()


class Csi:
    def __init__(self, ctx: ClusterContext) -> None:
        self.ctx = ctx
        self.volumes: dict[str, Any] = ctx.state.setdefault("csi_volumes", {})

    async def _config(self, releases: list[Obj], ready: set[str]) -> list[Obj] | None:
        for hr in releases:
            chart = (((hr.get("spec") or {}).get("chart") or {}).get("spec") or {}).get("chart")
            if chart != CHART or flux.key_of(hr) not in ready:
                continue
            values = (hr.get("spec") or {}).get("values") or {}
            name = values.get("existingConfigSecret") or CHART
            key = values.get("existingConfigSecretKey") or "config.yaml"
            ns = hr["metadata"]["namespace"]
            found = await self.ctx.client.get("v1", "Secret", name, ns)
            raw = ((found or {}).get("data") or {}).get(key)
            if not raw:
                return None
            doc = plainyaml.load(base64.b64decode(raw).decode()) or {}
            clusters = doc.get("clusters") or []
            return [c for c in clusters if isinstance(c, dict)]
        return None

    def _client(self, cluster: Obj) -> Pve:
        url = urlparse(str(cluster.get("url", "")))
        base = f"{url.scheme}://{url.netloc}"
        return Pve(
            self.ctx.world,
            base,
            str(cluster.get("token_id", "")),
            str(cluster.get("token_secret", "")),
            insecure=bool(cluster.get("insecure")),
            root_ca=self.ctx.world.ca.ca_file.read_text(),
        )

    async def reconcile(self, releases: list[Obj], ready: set[str]) -> None:
        clusters = await self._config(releases, ready)
        if clusters is None:
            return
        by_region = {str(c.get("region")): c for c in clusters}
        c = self.ctx.client
        pvs = [
            pv
            for pv in await c.list("v1", "PersistentVolume")
            if ((pv.get("spec") or {}).get("csi") or {}).get("driver") == DRIVER
        ]
        names = {pv["metadata"]["name"] for pv in pvs}
        for pv in pvs:
            if pv["metadata"].get("deletionTimestamp"):
                continue
            if VOLUME_ANNOTATION in (pv["metadata"].get("annotations") or {}):
                continue
            try:
                await self._provision(pv, by_region)
            except PveError as exc:
                await self._error(pv, str(exc))
        for volid, info in list(self.volumes.items()):
            if info["pv"] in names:
                continue
            cluster = by_region.get(info["region"])
            if cluster is None:
                continue
            try:
                await self._remove(self._client(cluster), volid, info)
            except PveError as exc:
                info["error"] = str(exc)
                continue
            self.volumes.pop(volid, None)

    async def _error(self, pv: Obj, message: str) -> None:
        if (pv["metadata"].get("annotations") or {}).get(ERROR_ANNOTATION) != message:
            await self.ctx.client.merge_patch(
                pv, {"metadata": {"annotations": {ERROR_ANNOTATION: message}}}
            )

    async def _provision(self, pv: Obj, by_region: dict[str, Obj]) -> None:
        c = self.ctx.client
        spec = pv.get("spec") or {}
        claim = spec.get("claimRef") or {}
        pvc = await c.get(
            "v1", "PersistentVolumeClaim", claim.get("name", ""), claim.get("namespace")
        )
        if pvc is None:
            return
        node_name = (pvc["metadata"].get("annotations") or {}).get(
            "volume.kubernetes.io/selected-node"
        )
        sc = await c.get("storage.k8s.io/v1", "StorageClass", spec.get("storageClassName", ""))
        if not node_name or sc is None:
            return
        node = await c.get("v1", "Node", node_name)
        labels = (node or {}).get("metadata", {}).get("labels") or {}
        region, zone = labels.get(REGION), labels.get(ZONE)
        cluster = by_region.get(str(region))
        if cluster is None or not zone:
            await self._error(
                pv,
                "cannot find best region and zone: node "
                f"{node_name} has no {REGION}/{ZONE} of a configured cluster",
            )
            return
        storage = str((sc.get("parameters") or {}).get("storage", ""))
        pve = self._client(cluster)
        filename = f"vm-{PLACEHOLDER_VMID}-{pv['metadata']['name']}"
        volid = f"{storage}:{filename}"
        size = _size_mib(str((spec.get("capacity") or {}).get("storage", "1Gi")))
        existing = {
            v.get("volid") for v in await pve.get(f"nodes/{zone}/storage/{storage}/content")
        }
        if volid not in existing:
            await pve.post(
                f"nodes/{zone}/storage/{storage}/content",
                vmid=PLACEHOLDER_VMID,
                filename=filename,
                size=f"{size}M",
            )
        self.volumes[volid] = {"pv": pv["metadata"]["name"], "region": region, "zone": zone}
        vm = next(
            (
                v
                for v in await pve.get("cluster/resources", type="vm")
                if v.get("name") == node_name and not v.get("template")
            ),
            None,
        )
        if vm is None:
            raise PveError(f"failed to find vm for node {node_name}")
        base = f"nodes/{vm['node']}/qemu/{vm['vmid']}"
        config = await pve.get(f"{base}/config")
        lun = next(
            (n for n in range(1, 30) if str(config.get(f"scsi{n}", "")).startswith(volid + ",")),
            None,
        )
        if lun is None:
            lun = next(n for n in range(1, 30) if f"scsi{n}" not in config)
            await pve.put(f"{base}/config", **{f"scsi{lun}": f"{volid},backup=0,wwn={_wwn(lun)}"})
        self.volumes[volid].update(
            {"vmid": int(vm["vmid"]), "node": vm["node"], "slot": f"scsi{lun}"}
        )
        self.ctx.world.save()
        await c.merge_patch(
            pv,
            {
                "metadata": {
                    "annotations": {
                        VOLUME_ANNOTATION: f"{region}/{zone}/{volid}",
                        f"{DRIVER}/attached": f"{vm['vmid']}/scsi{lun}",
                        ERROR_ANNOTATION: None,
                    }
                }
            },
        )

    async def _remove(self, pve: Pve, volid: str, info: dict[str, Any]) -> None:
        """Detach (``detachVolume``) then delete (``DeleteVolume``)."""
        if info.get("vmid") is not None:
            base = f"nodes/{info['node']}/qemu/{info['vmid']}"
            try:
                config = await pve.get(f"{base}/config")
            except PveError as exc:
                if "does not exist" not in str(exc):
                    raise
                config = {}
            slot = info.get("slot")
            if slot and str(config.get(slot, "")).startswith(volid + ","):
                await pve.put(f"{base}/config", delete=slot)
        storage = volid.split(":", 1)[0]
        try:
            upid = await pve.delete(f"nodes/{info['zone']}/storage/{storage}/content/{volid}")
        except PveError as exc:
            if "does not exist" in str(exc):
                return
            raise
        while await pve.task_done(str(info["zone"]), str(upid)) is None:
            await self.ctx.world.sleep(0.2)
