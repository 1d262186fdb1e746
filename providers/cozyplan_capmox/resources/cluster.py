"""``proxmox_cluster``: a Cluster API ``Cluster`` owning a ``ProxmoxCluster``, and its workers
(``ProxmoxMachineTemplate`` + ``MachineDeployment``).

Ready: the ProxmoxCluster is Ready and exactly ``replicas`` ProxmoxMachines of the cluster
are provisioned (``status.ready``, ``VMProvisioned``). A machine that capmox cannot provision
for a reason retrying will not fix (Proxmox refusing the clone: ``CloningFailed``) fails the
apply with Proxmox's message instead of waiting out the timeout.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

from cozyplan.provider import ApplyContext, Change, PermanentError, Resource
from cozyplan_capmox import kube, objects, privileges
from cozyplan_capmox.models import AclEntry, ClusterModel
from cozyplan_capmox.objects import CAPI, INFRA
from cozyplan_capmox.provider import CapmoxProvider

#: reasons of VMProvisioned=False that mean a refusal, not progress
FAILED = ("CloningFailed", "VMProvisionFailed", "PoweringOnFailed", "TaskFailure")
#: seconds a refusal may last before the apply fails (capmox retries it meanwhile)
GRACE = 120.0


def _selector(m: ClusterModel) -> str:
    return f"cluster.x-k8s.io/cluster-name={m.name}"


class ProxmoxClusterResource(Resource[CapmoxProvider, ClusterModel]):
    type_name = "proxmox_cluster"
    model = ClusterModel
    description = "A Cluster API cluster of Proxmox VMs (capmox): ProxmoxCluster + workers."

    async def _machines(self, m: ClusterModel) -> list[dict[str, Any]]:
        api = await self.provider.api()
        return await kube.items(api, INFRA, "ProxmoxMachine", m.namespace, _selector(m))

    async def _problem(
        self, m: ClusterModel, failing: dict[str, float] | None = None
    ) -> str | None:
        """What is not ready yet, or None. A machine refused for longer than a grace period
        (capmox retries; a refusal seen at the start may be from before a fix) fails."""
        api = await self.provider.api()
        pc = await kube.get(api, INFRA, "ProxmoxCluster", m.name, m.namespace)
        if pc is None:
            return f"ProxmoxCluster {m.namespace}/{m.name} not created yet"
        if not (pc.get("status") or {}).get("ready"):
            cond = kube.condition(pc, "ClusterReady") or {}
            return f"ProxmoxCluster {m.name} not Ready: {cond.get('message') or 'not reported'}"
        machines = await self._machines(m)
        live = [x for x in machines if not x["metadata"].get("deletionTimestamp")]
        for x in live:
            cond = kube.condition(x, "VMProvisioned") or {}
            name = x["metadata"]["name"]
            if cond.get("status") != "False" or cond.get("reason") not in FAILED:
                if failing is not None:
                    failing.pop(name, None)
                continue
            message = (
                f"ProxmoxMachine {m.namespace}/{name}: {cond.get('reason')}: {cond.get('message')}"
            )
            if failing is None:
                return message
            since = failing.setdefault(name, time.monotonic())
            if time.monotonic() - since >= self._grace():
                raise PermanentError(message)
            return message
        ready = [x for x in live if (x.get("status") or {}).get("ready")]
        want = m.workers.replicas
        if len(ready) != want or len(machines) != want:
            waiting = sorted(
                f"{x['metadata']['name']} "
                f"({(kube.condition(x, 'VMProvisioned') or {}).get('reason') or 'pending'})"
                for x in live
                if not (x.get("status") or {}).get("ready")
            )
            return f"{len(ready)}/{want} machines provisioned, {len(machines)} exist" + (
                f"; waiting: {', '.join(waiting)}" if waiting else ""
            )
        return None

    def _grace(self) -> float:
        return max(self.provider.ctx.scaled(GRACE), 5.0)

    async def read(self, current: ClusterModel) -> ClusterModel | None:
        api = await self.provider.api()
        pc = await kube.get(api, INFRA, "ProxmoxCluster", current.name, current.namespace)
        md = await kube.get(
            api, CAPI, "MachineDeployment", f"{current.name}-workers", current.namespace
        )
        if pc is None or md is None:
            return None
        replicas = int((md.get("spec") or {}).get("replicas", 0))
        workers = current.workers.model_copy(update={"replicas": replicas})
        probe = current.model_copy(update={"workers": workers})
        ready = await self._problem(probe) is None
        machines = [x for x in await self._machines(probe)]
        return probe.model_copy(
            update={
                "ready": ready,
                "machines": sorted(x["metadata"]["name"] for x in machines),
                "addresses": sorted(
                    a["address"]
                    for x in machines
                    for a in (x.get("status") or {}).get("addresses") or []
                    if a.get("type") == "InternalIP"
                ),
            }
        )

    async def create(self, planned: ClusterModel, ctx: ApplyContext) -> ClusterModel:
        api = await self.provider.api()
        if not planned.workers.bootstrap_secret:
            await kube.apply(api, objects.bootstrap_secret(planned, planned.bootstrap_data))
        for obj in objects.cluster_objects(planned):
            await kube.apply(api, obj)
        failing: dict[str, float] = {}
        await self.provider.wait(
            lambda: self._problem(planned, failing),
            timeout=planned.timeout,
            what=f"proxmox_cluster {planned.name} is not ready",
            progress=ctx.progress,
        )
        found = await self.read(planned)
        return (found or planned).model_copy(update={"ready": True})

    async def update(
        self,
        prior: ClusterModel,
        planned: ClusterModel,
        changes: Sequence[Change],
        ctx: ApplyContext,
    ) -> ClusterModel:
        return await self.create(planned, ctx)

    async def delete(self, prior: ClusterModel, ctx: ApplyContext) -> None:
        """Workers first (capmox destroys their VMs), then the cluster objects."""
        api = await self.provider.api()
        ns = prior.namespace
        await kube.delete(api, CAPI, "MachineDeployment", f"{prior.name}-workers", ns)

        async def machines_gone() -> str | None:
            left = await self._machines(prior)
            return f"{len(left)} machines left" if left else None

        await self.provider.wait(
            machines_gone,
            timeout=prior.timeout,
            what=f"the machines of {prior.name} are not deleted",
            progress=ctx.progress,
        )
        await kube.delete(api, CAPI, "Cluster", prior.name, ns)
        await kube.delete(api, INFRA, "ProxmoxCluster", prior.name, ns)
        await kube.delete(api, INFRA, "ProxmoxMachineTemplate", f"{prior.name}-workers", ns)
        if not prior.workers.bootstrap_secret:
            await kube.delete(api, "v1", "Secret", objects.bootstrap_secret_name(prior), ns)

        async def cluster_gone() -> str | None:
            pc = await kube.get(api, INFRA, "ProxmoxCluster", prior.name, ns)
            return None if pc is None else f"ProxmoxCluster {prior.name} is being deleted"

        await self.provider.wait(
            cluster_gone,
            timeout=prior.timeout,
            what=f"ProxmoxCluster {prior.name} is not deleted",
            progress=ctx.progress,
        )

    def plan_warnings(self, planned: Mapping[str, Any]) -> list[str]:
        acl = planned.get("token_acl")
        workers = planned.get("workers")
        if not isinstance(acl, list) or not isinstance(workers, dict):
            return []
        try:
            entries = [AclEntry.model_validate(e) for e in acl]
            needs = privileges.capmox_needs(
                int(workers["template_id"]),
                workers.get("storage"),
                str(workers.get("bridge") or "vmbr0"),
                str(workers["source_node"]),
            )
        except (ValueError, TypeError, KeyError):
            return []  # unknown until apply
        return privileges.warnings("capmox", entries, needs)
