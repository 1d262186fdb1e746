"""Cluster API as CozyStack's ``capi-operator`` and ``capi-providers-core`` releases run it.

* The operator (``cozy-cluster-api/capi-operator`` Ready): its CRDs
  (``operator.cluster.x-k8s.io/v1alpha2`` providers). An ``InfrastructureProvider`` ``proxmox``
  whose ``configSecret`` exists installs capmox (its CRDs as copied from the v0.7.4 tag, the
  ``capmox-controller-manager`` Deployment) and is Ready once that Deployment is Available;
  an ``IPAMProvider`` ``in-cluster`` installs ``InClusterIPPool``. Other names are not known.
* The core controllers (``capi-providers-core`` Ready): a ``Cluster`` sets itself as owner of
  its infrastructure cluster and reports it ready; a ``MachineDeployment`` keeps ``replicas``
  Machines, each with an infrastructure machine cloned from the template; a deleted Machine
  deletes its infrastructure machine and goes away once that is gone.
"""

from __future__ import annotations

import secrets
import string
from typing import Any

from cozyplan.lab.cozystack import crds
from cozyplan.lab.cozystack.context import ClusterContext, Obj, condition, deployment
from cozyplan.lab.cozystack.platform import apply_once
from cozyplan.upstream import capmox

OPERATOR = "operator.cluster.x-k8s.io/v1alpha2"
CAPI = "cluster.x-k8s.io/v1beta1"
INFRA = "infrastructure.cluster.x-k8s.io/v1alpha1"
IPAM = "ipam.cluster.x-k8s.io/v1alpha2"
CAPMOX_DEPLOYMENT = "capmox-controller-manager"
MACHINE_FINALIZER = "machine.cluster.x-k8s.io"
CLUSTER_LABEL = "cluster.x-k8s.io/cluster-name"
DEPLOYMENT_LABEL = "cluster.x-k8s.io/deployment-name"
OPERATOR_RELEASE = "cozy-cluster-api/capi-operator"
CORE_RELEASE = "cozy-cluster-api/capi-providers-core"

PROVIDER_KINDS = (
    ("CoreProvider", "coreproviders"),
    ("BootstrapProvider", "bootstrapproviders"),
    ("ControlPlaneProvider", "controlplaneproviders"),
    ("InfrastructureProvider", "infrastructureproviders"),
    ("IPAMProvider", "ipamproviders"),
    ("AddonProvider", "addonproviders"),
)
PHASE = [{"name": "Phase", "type": "string", "jsonPath": ".status.phase"}]
REPLICAS = [
    {"name": "Replicas", "type": "integer", "jsonPath": ".status.replicas"},
    {"name": "Ready", "type": "integer", "jsonPath": ".status.readyReplicas"},
    {"name": "Phase", "type": "string", "jsonPath": ".status.phase"},
]


def operator_crds() -> list[Obj]:
    return [
        crds.crd("operator.cluster.x-k8s.io", "v1alpha2", kind, plural, columns=crds.READY_COLUMNS)
        for kind, plural in PROVIDER_KINDS
    ]


def core_crds() -> list[Obj]:
    return [
        crds.crd(
            "cluster.x-k8s.io", "v1beta1", "Cluster", "clusters", short=("cl",), columns=PHASE
        ),
        crds.crd(
            "cluster.x-k8s.io",
            "v1beta1",
            "MachineDeployment",
            "machinedeployments",
            short=("md",),
            columns=REPLICAS,
        ),
        crds.crd(
            "cluster.x-k8s.io", "v1beta1", "Machine", "machines", short=("ma",), columns=PHASE
        ),
    ]


def ipam_crds() -> list[Obj]:
    return [crds.crd("ipam.cluster.x-k8s.io", "v1alpha2", "InClusterIPPool", "inclusterippools")]


def capmox_deployment(namespace: str, version: str) -> Obj:
    labels = {
        "cluster.x-k8s.io/provider": "infrastructure-proxmox",
        "control-plane": "controller-manager",
    }
    image = f"ghcr.io/ionos-cloud/cluster-api-provider-proxmox:{version}"
    return deployment(CAPMOX_DEPLOYMENT, namespace, labels, "manager", image)


def capi_condition(kind: str, status: str, reason: str = "", message: str = "") -> Obj:
    """A Cluster API condition: ``reason``/``message`` omitted when empty (``omitempty``; the
    CRDs require at least one character when present)."""
    out = condition(kind, status, reason, message)
    return {k: v for k, v in out.items() if v != "" or k in ("type", "status")}


def available(dep: Obj | None) -> bool:
    for cond in ((dep or {}).get("status") or {}).get("conditions") or []:
        if cond.get("type") == "Available" and cond.get("status") == "True":
            return True
    return False


def owner_ref(obj: Obj, *, controller: bool = False) -> Obj:
    ref = {
        "apiVersion": obj["apiVersion"],
        "kind": obj["kind"],
        "name": obj["metadata"]["name"],
        "uid": obj["metadata"]["uid"],
        "blockOwnerDeletion": True,
    }
    if controller:
        ref["controller"] = True
    return ref


def owner_of(obj: Obj, kind: str) -> str | None:
    for ref in obj["metadata"].get("ownerReferences") or []:
        if ref.get("kind") == kind:
            return str(ref.get("name"))
    return None


def _suffix() -> str:
    return "".join(secrets.choice(string.ascii_lowercase + string.digits) for _ in range(5))


async def set_status(ctx: ClusterContext, obj: Obj, status: Obj) -> None:
    """Write ``status`` unless the object already shows it (no write per tick)."""
    have = obj.get("status") or {}
    if all(_same(have.get(k), v) for k, v in status.items()):
        return
    await ctx.client.patch_status(obj, status)


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        keys = set(b) - {"lastTransitionTime"}
        return all(_same(a.get(k), b[k]) for k in keys)
    return bool(a == b)


class Operator:
    """cluster-api-operator for the providers cozyplan installs."""

    def __init__(self, ctx: ClusterContext) -> None:
        self.ctx = ctx

    async def reconcile(self, ready: set[str]) -> None:
        if OPERATOR_RELEASE not in ready:
            return
        if not await apply_once(self.ctx, "capi-operator", operator_crds):
            return
        c = self.ctx.client
        for provider in await c.list(OPERATOR, "InfrastructureProvider"):
            await self._infrastructure(provider)
        for provider in await c.list(OPERATOR, "IPAMProvider"):
            await self._ipam(provider)

    async def _not_ready(self, provider: Obj, reason: str, message: str) -> None:
        await set_status(
            self.ctx, provider, {"conditions": [condition("Ready", "False", reason, message)]}
        )

    async def _config_secret(self, provider: Obj) -> bool:
        ref = (provider.get("spec") or {}).get("configSecret") or {}
        if not ref.get("name"):
            return True
        namespace = ref.get("namespace") or provider["metadata"]["namespace"]
        found = await self.ctx.client.get("v1", "Secret", ref["name"], namespace)
        if found is None:
            await self._not_ready(
                provider,
                "SecretNotFound",
                f'failed to get config secret: secrets "{ref["name"]}" not found',
            )
            return False
        return True

    async def _infrastructure(self, provider: Obj) -> None:
        meta, spec = provider["metadata"], provider.get("spec") or {}
        if meta.get("deletionTimestamp"):
            return
        if meta["name"] != "proxmox":
            await self._not_ready(
                provider, "UnknownProvider", f"provider {meta['name']!r} is not in the lab"
            )
            return
        version = str(spec.get("version") or capmox.DEFAULT_VERSION)
        if version not in capmox.VERSIONS:
            await self._not_ready(
                provider,
                "ComponentsFetchError",
                f"failed to get provider components: version {version} not found",
            )
            return
        if not await self._config_secret(provider):
            return
        await apply_once(self.ctx, f"capmox-{version}", lambda: capmox.crds(version))
        dep = await self.ctx.client.apply(capmox_deployment(meta["namespace"], version))
        if not available(dep):
            await self._not_ready(provider, "Installing", "waiting for deployment to be available")
            return
        await set_status(
            self.ctx,
            provider,
            {
                "installedVersion": version,
                "conditions": [
                    capi_condition("ProviderInstalled", "True", "Installed"),
                    capi_condition("Ready", "True", "Ready"),
                ],
            },
        )

    async def _ipam(self, provider: Obj) -> None:
        meta, spec = provider["metadata"], provider.get("spec") or {}
        if meta["name"] != "in-cluster":
            await self._not_ready(
                provider, "UnknownProvider", f"provider {meta['name']!r} is not in the lab"
            )
            return
        if not await apply_once(self.ctx, "capi-ipam", ipam_crds):
            return
        await set_status(
            self.ctx,
            provider,
            {
                "installedVersion": spec.get("version"),
                "conditions": [
                    capi_condition("ProviderInstalled", "True", "Installed"),
                    capi_condition("Ready", "True", "Ready"),
                ],
            },
        )


class Core:
    """The Cluster, MachineDeployment and Machine controllers of Cluster API."""

    def __init__(self, ctx: ClusterContext) -> None:
        self.ctx = ctx

    async def reconcile(self, ready: set[str]) -> None:
        if CORE_RELEASE not in ready:
            return
        if not await apply_once(self.ctx, "capi-core", core_crds):
            return
        c = self.ctx.client
        for cluster in await c.list(CAPI, "Cluster"):
            await self._cluster(cluster)
        for md in await c.list(CAPI, "MachineDeployment"):
            await self._deployment(md)
        for machine in await c.list(CAPI, "Machine"):
            await self._machine(machine)

    async def _cluster(self, cluster: Obj) -> None:
        c = self.ctx.client
        meta, spec = cluster["metadata"], cluster.get("spec") or {}
        ref = spec.get("infrastructureRef") or {}
        if not ref.get("name"):
            return
        infra = await c.get(
            str(ref.get("apiVersion")), str(ref.get("kind")), ref["name"], meta["namespace"]
        )
        if infra is None:
            await set_status(self.ctx, cluster, {"phase": "Pending", "infrastructureReady": False})
            return
        if meta.get("deletionTimestamp"):
            return
        imeta = infra["metadata"]
        if owner_of(infra, "Cluster") != meta["name"]:
            refs = [r for r in imeta.get("ownerReferences") or [] if r.get("kind") != "Cluster"]
            await c.merge_patch(
                infra,
                {
                    "metadata": {
                        "ownerReferences": [*refs, owner_ref(cluster)],
                        "labels": {CLUSTER_LABEL: meta["name"]},
                    }
                },
            )
        infra_ready = bool((infra.get("status") or {}).get("ready"))
        ready = capi_condition(
            "Ready",
            "True" if infra_ready else "False",
            "" if infra_ready else "WaitingForInfrastructure",
            "" if infra_ready else f"{ref.get('kind')} {ref['name']} is not ready",
        )
        await set_status(
            self.ctx,
            cluster,
            {
                "phase": "Provisioned" if infra_ready else "Provisioning",
                "infrastructureReady": infra_ready,
                "conditions": [ready],
            },
        )

    async def _deployment(self, md: Obj) -> None:
        c = self.ctx.client
        meta, spec = md["metadata"], md.get("spec") or {}
        if meta.get("deletionTimestamp"):
            return
        ns, name = meta["namespace"], meta["name"]
        machines = [
            m
            for m in await c.list(CAPI, "Machine", ns, f"{DEPLOYMENT_LABEL}={name}")
            if owner_of(m, "MachineDeployment") == name
        ]
        live = sorted(
            (m for m in machines if not m["metadata"].get("deletionTimestamp")),
            key=lambda m: (m["metadata"].get("creationTimestamp", ""), m["metadata"]["name"]),
        )
        want = int(spec.get("replicas", 1))
        for _ in range(want - len(live)):
            await self._new_machine(md)
        for extra in live[want:][::-1] if len(live) > want else []:
            await c.delete(CAPI, "Machine", extra["metadata"]["name"], ns)
        running = sum(1 for m in live[:want] if (m.get("status") or {}).get("phase") == "Running")
        phase = (
            "ScalingUp" if len(live) < want else "ScalingDown" if len(live) > want else "Running"
        )
        if phase == "Running" and running < want:
            phase = "ScalingUp"
        await set_status(
            self.ctx,
            md,
            {
                "replicas": len(machines),
                "readyReplicas": running,
                "availableReplicas": running,
                "updatedReplicas": len(live),
                "observedGeneration": meta.get("generation"),
                "phase": phase,
            },
        )

    async def _new_machine(self, md: Obj) -> None:
        c = self.ctx.client
        meta, spec = md["metadata"], md.get("spec") or {}
        template = spec.get("template") or {}
        tspec = template.get("spec") or {}
        name = f"{meta['name']}-{_suffix()}"
        ns = meta["namespace"]
        infra_ref = tspec.get("infrastructureRef") or {}
        infra_template = await c.get(
            str(infra_ref.get("apiVersion")), str(infra_ref.get("kind")), infra_ref["name"], ns
        )
        if infra_template is None:
            return
        labels = {**((template.get("metadata") or {}).get("labels") or {})}
        labels[CLUSTER_LABEL] = str(spec.get("clusterName"))
        labels[DEPLOYMENT_LABEL] = meta["name"]
        machine = await c.apply(
            {
                "apiVersion": CAPI,
                "kind": "Machine",
                "metadata": {
                    "name": name,
                    "namespace": ns,
                    "labels": labels,
                    "ownerReferences": [owner_ref(md, controller=True)],
                },
                "spec": {
                    "clusterName": spec.get("clusterName"),
                    "version": tspec.get("version"),
                    "bootstrap": tspec.get("bootstrap") or {},
                    "infrastructureRef": {
                        "apiVersion": infra_ref.get("apiVersion"),
                        "kind": str(infra_ref.get("kind")).removesuffix("Template"),
                        "name": name,
                        "namespace": ns,
                    },
                },
            }
        )
        if machine is None:
            return
        await c.merge_patch(machine, {"metadata": {"finalizers": [MACHINE_FINALIZER]}})
        tmpl = (infra_template.get("spec") or {}).get("template") or {}
        await c.apply(
            {
                "apiVersion": infra_ref.get("apiVersion"),
                "kind": str(infra_ref.get("kind")).removesuffix("Template"),
                "metadata": {
                    "name": name,
                    "namespace": ns,
                    "labels": {CLUSTER_LABEL: labels[CLUSTER_LABEL]},
                    "annotations": {
                        "cluster.x-k8s.io/cloned-from-name": infra_ref["name"],
                        "cluster.x-k8s.io/cloned-from-groupkind": (
                            f"{infra_ref.get('kind')}.infrastructure.cluster.x-k8s.io"
                        ),
                    },
                    "ownerReferences": [owner_ref(machine, controller=True)],
                },
                "spec": tmpl.get("spec") or {},
            }
        )

    async def _machine(self, machine: Obj) -> None:
        c = self.ctx.client
        meta, spec = machine["metadata"], machine.get("spec") or {}
        ref = spec.get("infrastructureRef") or {}
        infra = await c.get(
            str(ref.get("apiVersion")),
            str(ref.get("kind")),
            str(ref.get("name")),
            meta["namespace"],
        )
        if meta.get("deletionTimestamp"):
            if infra is not None:
                if not infra["metadata"].get("deletionTimestamp"):
                    await c.delete(
                        str(ref.get("apiVersion")), str(ref["kind"]), ref["name"], meta["namespace"]
                    )
                await set_status(self.ctx, machine, {"phase": "Deleting"})
                return
            left = [f for f in meta.get("finalizers") or [] if f != MACHINE_FINALIZER]
            await c.merge_patch(machine, {"metadata": {"finalizers": left or None}})
            return
        istatus = (infra or {}).get("status") or {}
        ready = bool(istatus.get("ready"))
        await set_status(
            self.ctx,
            machine,
            {
                "phase": "Running" if ready else "Provisioning",
                "infrastructureReady": ready,
                "bootstrapReady": True,
                "addresses": istatus.get("addresses") or [],
            },
        )
