"""``proxmox_csi``: the Proxmox CSI plugin (Flux HelmRepository + HelmRelease in a privileged
namespace), its ``config.yaml`` Secret, the nodes' topology labels and its StorageClasses."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from cozyplan import plainyaml
from cozyplan.provider import ApplyContext, Change, PermanentError, Resource
from cozyplan_capmox import kube, objects, privileges
from cozyplan_capmox.models import AclEntry, CsiModel, CsiNode, StorageClassModel
from cozyplan_capmox.objects import CSI_PROVISIONER, HELMRELEASE, REGION_LABEL, ZONE_LABEL
from cozyplan_capmox.provider import CapmoxProvider


class ProxmoxCsi(Resource[CapmoxProvider, CsiModel]):
    type_name = "proxmox_csi"
    model = CsiModel
    description = "The Proxmox CSI plugin, its config, node topology labels and StorageClasses."

    async def _release_problem(self, m: CsiModel) -> str | None:
        api = await self.provider.api()
        hr = await kube.get(api, HELMRELEASE, "HelmRelease", "proxmox-csi-plugin", m.namespace)
        if hr is None:
            return "HelmRelease proxmox-csi-plugin not created yet"
        gen = hr["metadata"].get("generation")
        if (hr.get("status") or {}).get("observedGeneration") != gen or not kube.is_true(
            hr, "Ready"
        ):
            cond = kube.condition(hr, "Ready") or {}
            why = cond.get("message") or "not Ready"
            return f"HelmRelease {m.namespace}/proxmox-csi-plugin: {why}"
        return None

    async def read(self, current: CsiModel) -> CsiModel | None:
        api = await self.provider.api()
        ns = current.namespace
        hr = await kube.get(api, HELMRELEASE, "HelmRelease", "proxmox-csi-plugin", ns)
        secret = kube.decode(await kube.get(api, "v1", "Secret", "proxmox-csi-plugin", ns))
        if hr is None or "config.yaml" not in secret:
            return None
        config = plainyaml.load(secret["config.yaml"]) or {}
        cluster = (config.get("clusters") or [{}])[0]
        classes: dict[str, StorageClassModel] = {}
        for name, want in current.storage_classes.items():
            sc = await kube.get(api, "storage.k8s.io/v1", "StorageClass", name, None)
            if sc is None or sc.get("provisioner") != CSI_PROVISIONER:
                continue
            params = sc.get("parameters") or {}
            classes[name] = want.model_copy(
                update={
                    "storage": params.get("storage", ""),
                    "fstype": params.get("csi.storage.k8s.io/fstype", want.fstype),
                    "reclaim_policy": sc.get("reclaimPolicy", "Delete"),
                }
            )
        nodes: dict[str, CsiNode] = {}
        for name in current.nodes:
            node = await kube.get(api, "v1", "Node", name, None)
            labels = ((node or {}).get("metadata") or {}).get("labels") or {}
            if labels.get(REGION_LABEL) == cluster.get("region") and labels.get(ZONE_LABEL):
                nodes[name] = CsiNode(zone=labels[ZONE_LABEL])
        chart = (((hr.get("spec") or {}).get("chart") or {}).get("spec")) or {}
        return current.model_copy(
            update={
                "chart_version": chart.get("version", ""),
                "url": cluster.get("url", ""),
                "insecure": bool(cluster.get("insecure")),
                "token_id": cluster.get("token_id", ""),
                "token_secret": cluster.get("token_secret", ""),
                "region": cluster.get("region", ""),
                "storage_classes": classes,
                "nodes": nodes,
                "ready": await self._release_problem(current) is None,
            }
        )

    async def create(self, planned: CsiModel, ctx: ApplyContext) -> CsiModel:
        api = await self.provider.api()
        for obj in objects.csi_objects(planned):
            await kube.apply(api, obj)
        for node in planned.nodes:
            if await kube.get(api, "v1", "Node", node, None) is None:
                raise PermanentError(
                    f"node {node} does not exist: its topology labels cannot be set"
                )
            await kube.apply(api, objects.node_labels(planned, node))
        await self.provider.wait(
            lambda: self._release_problem(planned),
            timeout=planned.timeout,
            what="proxmox-csi is not ready",
            progress=ctx.progress,
        )
        return planned.model_copy(update={"ready": True})

    async def update(
        self,
        prior: CsiModel,
        planned: CsiModel,
        changes: Sequence[Change],
        ctx: ApplyContext,
    ) -> CsiModel:
        api = await self.provider.api()
        for name in set(prior.storage_classes) - set(planned.storage_classes):
            await kube.delete(api, "storage.k8s.io/v1", "StorageClass", name, None)
        return await self.create(planned, ctx)

    async def delete(self, prior: CsiModel, ctx: ApplyContext) -> None:
        api = await self.provider.api()
        for name in prior.storage_classes:
            await kube.delete(api, "storage.k8s.io/v1", "StorageClass", name, None)
        ns = prior.namespace
        await kube.delete(api, HELMRELEASE, "HelmRelease", "proxmox-csi-plugin", ns)
        await kube.delete(api, objects.HELMREPO, "HelmRepository", "proxmox-csi", ns)
        await kube.delete(api, "v1", "Secret", "proxmox-csi-plugin", ns)

    def plan_warnings(self, planned: Mapping[str, Any]) -> list[str]:
        acl = planned.get("token_acl")
        classes = planned.get("storage_classes")
        if not isinstance(acl, list) or not isinstance(classes, dict):
            return []
        try:
            entries = [AclEntry.model_validate(e) for e in acl]
            storages = [str(sc["storage"]) for sc in classes.values()]
        except (ValueError, TypeError, KeyError):
            return []
        return privileges.warnings("proxmox-csi", entries, privileges.csi_needs(storages))
