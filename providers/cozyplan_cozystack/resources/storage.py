"""``cozystack_storage``: LINSTOR on each node's data disk, declaratively, and the StorageClasses.

Instead of upstream e2e's one-shot ``linstor ps cdp zfs <node> <device>`` (imperative, not
re-checkable), each node gets a piraeus ``LinstorSatelliteConfiguration`` with a ZFS pool on
the data disk's device (``source.hostDevices``), which the operator converges and reports in
the node's ``LinstorSatellite`` conditions. The device is derived from the node's Proxmox VM
disks (``devices.guest_device``). Waits: Deployment ``cozy-linstor/linstor-controller``
Available, then every node's satellite Available (Online) and Configured (pool created; else
LINSTOR's/ZFS's message). Then the StorageClasses ``local`` and ``replicated`` exactly as
upstream's e2e creates them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any

from cozyplan import plainyaml
from cozyplan.provider import ApplyContext, Change, PlanError, Resource
from cozyplan.upstream.cozystack import release
from cozyplan_cozystack import kube
from cozyplan_cozystack.devices import guest_device
from cozyplan_cozystack.models import StorageModel
from cozyplan_cozystack.provider import CozystackProvider

PIRAEUS = "piraeus.io/v1"
NAMESPACE = "cozy-linstor"
POOL_PARAM = "linstor.csi.linbit.com/storagePool"


def devices(m: StorageModel) -> dict[str, str]:
    out = {}
    for node, spec in m.nodes.items():
        try:
            out[node] = guest_device(spec.disks, m.data_disk)
        except ValueError as exc:
            raise PlanError(f"nodes.{node}: {exc}") from None
    return out


def satellite_configuration(node: str, device: str, pool: str) -> dict[str, Any]:
    return {
        "apiVersion": PIRAEUS,
        "kind": "LinstorSatelliteConfiguration",
        "metadata": {"name": f"cozyplan-{pool}-{node}"},
        "spec": {
            "nodeSelector": {"kubernetes.io/hostname": node},
            "storagePools": [
                {"name": pool, "zfsPool": {"zPool": pool}, "source": {"hostDevices": [device]}}
            ],
        },
    }


def storage_classes(version: str, pool: str) -> list[dict[str, Any]]:
    """Upstream e2e's ``local`` and ``replicated``, on ``pool``."""
    path = release(version).root / "e2e" / "storageclasses.yaml"
    docs = plainyaml.load_all_data_file(path)
    for doc in docs:
        doc["parameters"][POOL_PARAM] = pool
    return docs


def satellite_problem(node: str, satellite: Mapping[str, Any] | None) -> str | None:
    if satellite is None:
        return f"LINSTOR satellite {node}: not registered yet"
    for text in ("Available=True", "Configured=True"):
        why = kube.condition(dict(satellite), text)
        if why is not None:
            return f"LINSTOR satellite {node}: {why}"
    return None


class CozystackStorage(Resource[CozystackProvider, StorageModel]):
    type_name = "cozystack_storage"
    model = StorageModel
    description = "LINSTOR ZFS pools on each node's data disk; StorageClasses local/replicated."

    def check_plan(self, prior: StorageModel | None, planned: Mapping[str, Any]) -> None:
        nodes = planned.get("nodes")
        if not isinstance(nodes, dict):
            return
        for node, spec in nodes.items():
            disks = spec.get("disks") if isinstance(spec, dict) else None
            if isinstance(disks, list) and all(isinstance(d, dict) for d in disks):
                try:
                    guest_device(disks, str(planned.get("data_disk", "scsi1")))
                except ValueError as exc:
                    raise PlanError(f"nodes.{node}: {exc}") from None

    async def _problems(self, m: StorageModel, api: Any) -> list[str]:
        classes = [sc["metadata"]["name"] for sc in storage_classes(m.version, m.pool)]
        dep, satellites, found = await asyncio.gather(
            kube.get(api, "apps/v1", "Deployment", "linstor-controller", NAMESPACE),
            kube.get_all(api, [(PIRAEUS, "LinstorSatellite", node, None) for node in m.nodes]),
            kube.get_all(api, [("storage.k8s.io/v1", "StorageClass", n, None) for n in classes]),
        )
        why = kube.condition(dep, "Available=True")
        if why is not None:
            return [f"Deployment {NAMESPACE}/linstor-controller: {why}"]
        problems = [
            problem
            for node, sat in zip(m.nodes, satellites, strict=True)
            if (problem := satellite_problem(node, sat)) is not None
        ]
        problems += [
            f"StorageClass {n} missing" for n, sc in zip(classes, found, strict=True) if sc is None
        ]
        return problems

    async def read(self, current: StorageModel) -> StorageModel | None:
        api = await self.provider.api()
        found = {}
        configurations = await kube.get_all(
            api,
            [
                (PIRAEUS, "LinstorSatelliteConfiguration", f"cozyplan-{current.pool}-{node}", None)
                for node in current.nodes
            ],
        )
        for node, obj in zip(current.nodes, configurations, strict=True):
            if obj is None:
                continue
            pools = (obj.get("spec") or {}).get("storagePools") or []
            sources = (pools[0].get("source") or {}).get("hostDevices") if pools else None
            if sources:
                found[node] = str(sources[0])
        if not found:
            return None
        problems = await self._problems(current, api)
        nodes = {n: s for n, s in current.nodes.items() if n in found}
        return current.model_copy(update={"nodes": nodes, "devices": found, "ready": not problems})

    async def create(self, planned: StorageModel, ctx: ApplyContext) -> StorageModel:
        api = await self.provider.api()
        devs = devices(planned)
        for node, device in devs.items():
            await kube.apply(api, satellite_configuration(node, device, planned.pool))

        async def check() -> str | None:
            problems = await self._problems(planned, api)
            return "; ".join(problems) if problems else None

        async def with_classes() -> str | None:
            dep = await kube.get(api, "apps/v1", "Deployment", "linstor-controller", NAMESPACE)
            return kube.condition(dep, "Available=True")

        await self.provider.wait(
            with_classes,
            timeout=planned.timeout,
            what="LINSTOR's controller is not Available",
            progress=ctx.progress,
        )
        for sc in storage_classes(planned.version, planned.pool):
            await kube.apply(api, sc)
        await self.provider.wait(
            check,
            timeout=planned.timeout,
            what="LINSTOR storage is not ready",
            progress=ctx.progress,
        )
        return planned.model_copy(update={"devices": devs, "ready": True})

    async def update(
        self,
        prior: StorageModel,
        planned: StorageModel,
        changes: Sequence[Change],
        ctx: ApplyContext,
    ) -> StorageModel:
        api = await self.provider.api()
        for node in set(prior.nodes) - set(planned.nodes):
            await kube.delete(
                api, PIRAEUS, "LinstorSatelliteConfiguration", f"cozyplan-{prior.pool}-{node}", None
            )
        return await self.create(planned, ctx)

    async def delete(self, prior: StorageModel, ctx: ApplyContext) -> None:
        api = await self.provider.api()
        for node in prior.nodes:
            await kube.delete(
                api, PIRAEUS, "LinstorSatelliteConfiguration", f"cozyplan-{prior.pool}-{node}", None
            )
        ctx.progress("StorageClasses local/replicated are kept (volumes may still use them)")
