"""What a system release does to the cluster once it is Ready (the part the lab must see).

cilium: the pod network is up, so the nodes turn Ready (``kube.cni_ready``); metallb and
piraeus-operator: their CRDs; linstor: the ``linstor-controller`` Deployment; cozystack-api:
the ``apps.cozystack.io`` kinds and the APIService ``v1alpha1.apps.cozystack.io`` Available.
"""

from __future__ import annotations

from cozyplan.lab.cozystack import crds
from cozyplan.lab.cozystack.context import (
    ClusterContext,
    Obj,
    condition,
    deployment,
    same_condition,
)
from cozyplan.lab.cozystack.platform import apply_once

APISERVICE = "v1alpha1.apps.cozystack.io"


def linstor_controller() -> Obj:
    return deployment(
        "linstor-controller",
        "cozy-linstor",
        {"app.kubernetes.io/name": "linstor-controller"},
        "linstor-controller",
        "quay.io/piraeusdatastore/piraeus-server",
    )


def apiservice() -> Obj:
    return {
        "apiVersion": "apiregistration.k8s.io/v1",
        "kind": "APIService",
        "metadata": {"name": APISERVICE},
        "spec": {
            "group": "apps.cozystack.io",
            "version": "v1alpha1",
            "service": {"name": "cozystack-api", "namespace": "cozy-system", "port": 443},
            "groupPriorityMinimum": 1000,
            "versionPriority": 15,
            "insecureSkipTLSVerify": True,
        },
    }


class Effects:
    def __init__(self, ctx: ClusterContext) -> None:
        self.ctx = ctx

    async def reconcile(self, ready: set[str]) -> None:
        state = self.ctx.state
        cni = "cozy-cilium/cilium" in ready
        if state.get("cni_ready") != cni:
            await self.ctx.publish(
                "kube.cni_ready", {"cluster_id": self.ctx.cluster_id, "ready": cni}
            )
            state["cni_ready"] = cni
        for release, objects in (
            ("cozy-metallb/metallb", crds.metallb),
            ("cozy-linstor/piraeus-operator", crds.piraeus),
            ("cozy-linstor/linstor", lambda: [linstor_controller()]),
            (
                "cozy-system/cozystack-api",
                lambda: crds.apps(self.ctx.release.app_definitions()),
            ),
        ):
            if release in ready:
                await apply_once(self.ctx, release, objects)
        if "cozy-system/cozystack-api" in self.ctx.applied:
            svc = await self.ctx.client.get(
                "apiregistration.k8s.io/v1", "APIService", APISERVICE
            ) or await self.ctx.client.apply(apiservice())
            wanted = condition("Available", "True", "Passed", "all checks passed")
            if svc is not None and not same_condition(svc, wanted):
                await self.ctx.client.patch_status(svc, {"conditions": [wanted]})
