"""``cozystack_networking``: MetalLB ``IPAddressPool`` + ``L2Advertisement`` (upstream's e2e)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from cozyplan.provider import ApplyContext, Change, Resource
from cozyplan_cozystack import kube
from cozyplan_cozystack.models import NetworkingModel
from cozyplan_cozystack.provider import CozystackProvider

METALLB = "metallb.io/v1beta1"


def _objects(m: NetworkingModel) -> list[dict[str, Any]]:
    meta = {"name": m.name, "namespace": m.namespace}
    return [
        {
            "apiVersion": METALLB,
            "kind": "IPAddressPool",
            "metadata": meta,
            "spec": {"addresses": list(m.addresses), "autoAssign": True, "avoidBuggyIPs": False},
        },
        {
            "apiVersion": METALLB,
            "kind": "L2Advertisement",
            "metadata": meta,
            "spec": {"ipAddressPools": [m.name]},
        },
    ]


class CozystackNetworking(Resource[CozystackProvider, NetworkingModel]):
    type_name = "cozystack_networking"
    model = NetworkingModel
    description = "MetalLB address pool and L2 advertisement for LoadBalancer Services."

    async def read(self, current: NetworkingModel) -> NetworkingModel | None:
        api = await self.provider.api()
        pool = await kube.get(api, METALLB, "IPAddressPool", current.name, current.namespace)
        adv = await kube.get(api, METALLB, "L2Advertisement", current.name, current.namespace)
        if pool is None or adv is None:
            return None
        return current.model_copy(
            update={"addresses": list((pool.get("spec") or {}).get("addresses") or [])}
        )

    async def create(self, planned: NetworkingModel, ctx: ApplyContext) -> NetworkingModel:
        api = await self.provider.api()
        for obj in _objects(planned):
            await kube.apply(api, obj)
        return planned

    async def update(
        self,
        prior: NetworkingModel,
        planned: NetworkingModel,
        changes: Sequence[Change],
        ctx: ApplyContext,
    ) -> NetworkingModel:
        return await self.create(planned, ctx)

    async def delete(self, prior: NetworkingModel, ctx: ApplyContext) -> None:
        api = await self.provider.api()
        for obj in reversed(_objects(prior)):
            await kube.delete(api, obj["apiVersion"], obj["kind"], prior.name, prior.namespace)
