"""``capmox_provider``: capmox and the in-cluster IPAM provider through the Cluster API
operator CozyStack bundles (``cozy-cluster-api/capi-operator``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from cozyplan.provider import ApplyContext, Change, Resource
from cozyplan_capmox import kube, objects
from cozyplan_capmox.models import ProviderModel
from cozyplan_capmox.objects import IPAM_NAMESPACE, OPERATOR
from cozyplan_capmox.provider import CapmoxProvider

CRDS = (
    "proxmoxclusters.infrastructure.cluster.x-k8s.io",
    "proxmoxmachines.infrastructure.cluster.x-k8s.io",
    "proxmoxmachinetemplates.infrastructure.cluster.x-k8s.io",
)
CRD_API = "apiextensions.k8s.io/v1"


class CapmoxInstall(Resource[CapmoxProvider, ProviderModel]):
    type_name = "capmox_provider"
    model = ProviderModel
    description = "capmox (InfrastructureProvider proxmox) + the in-cluster IPAM provider."

    async def read(self, current: ProviderModel) -> ProviderModel | None:
        objs = await self._objects(current)
        infra, ipam = objs["infra"], objs["ipam"]
        if infra is None:
            return None
        variables = kube.decode(objs["variables"])
        return current.model_copy(
            update={
                "version": (infra.get("spec") or {}).get("version", ""),
                "ipam_version": ((ipam or {}).get("spec") or {}).get("version", ""),
                "url": variables.get("PROXMOX_URL", ""),
                "token": variables.get("PROXMOX_TOKEN", ""),
                "secret": variables.get("PROXMOX_SECRET", ""),
                "ready": self._problem_of(current, objs) is None,
            }
        )

    async def _objects(self, m: ProviderModel) -> dict[str, dict[str, Any] | None]:
        """Everything read and readiness look at, fetched at once (independent GETs)."""
        api = await self.provider.api()
        wanted: dict[str, tuple[str, str, str, str | None]] = {
            "infra": (OPERATOR, "InfrastructureProvider", "proxmox", m.namespace),
            "variables": ("v1", "Secret", "capmox-variables", m.namespace),
            "ipam": (OPERATOR, "IPAMProvider", "in-cluster", IPAM_NAMESPACE),
            "deployment": ("apps/v1", "Deployment", objects.CAPMOX_DEPLOYMENT, m.namespace),
            **{name: (CRD_API, "CustomResourceDefinition", name, None) for name in CRDS},
        }
        return dict(zip(wanted, await kube.get_all(api, list(wanted.values())), strict=True))

    async def _problem(self, m: ProviderModel) -> str | None:
        return self._problem_of(m, await self._objects(m))

    @staticmethod
    def _problem_of(m: ProviderModel, objs: dict[str, dict[str, Any] | None]) -> str | None:
        infra = objs["infra"]
        if not kube.is_true(infra, "Ready"):
            cond = kube.condition(infra, "Ready") or {}
            return (
                f"InfrastructureProvider proxmox not Ready: {cond.get('message') or 'not reported'}"
            )
        if not kube.is_true(objs["ipam"], "Ready"):
            return "IPAMProvider in-cluster not Ready"
        if not kube.is_true(objs["deployment"], "Available"):
            return f"Deployment {m.namespace}/{objects.CAPMOX_DEPLOYMENT} not Available"
        for name in CRDS:
            if not kube.is_true(objs[name], "Established"):
                return f"CRD {name} not Established"
        return None

    async def create(self, planned: ProviderModel, ctx: ApplyContext) -> ProviderModel:
        api = await self.provider.api()
        for obj in objects.provider_objects(planned):
            # the operator's kinds are served once CozyStack's capi-operator release is Ready
            await kube.apply(api, obj, timeout=self.provider.ctx.scaled(planned.timeout))
        await self.provider.wait(
            lambda: self._problem(planned),
            timeout=planned.timeout,
            what="capmox is not ready",
            progress=ctx.progress,
        )
        return planned.model_copy(update={"ready": True})

    async def update(
        self,
        prior: ProviderModel,
        planned: ProviderModel,
        changes: Sequence[Change],
        ctx: ApplyContext,
    ) -> ProviderModel:
        return await self.create(planned, ctx)

    async def delete(self, prior: ProviderModel, ctx: ApplyContext) -> None:
        api = await self.provider.api()
        await kube.delete(api, OPERATOR, "InfrastructureProvider", "proxmox", prior.namespace)
        await kube.delete(api, OPERATOR, "IPAMProvider", "in-cluster", IPAM_NAMESPACE)
        await kube.delete(api, "v1", "Secret", "capmox-variables", prior.namespace)
