"""The health checks ``k8s_check`` runs: a registry of small async functions.

Each check has a parameter model and a function ``(api, params, scale) -> failures`` that returns
one line per thing that is wrong (empty: passing). To add one: write both, decorate the function
with ``@check("field_name", ParamsModel)``; ``k8s_check`` gets a field of that name.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, Field

from cozyplan.provider import SpecModel
from cozyplan_kubernetes.api import Api
from cozyplan_kubernetes.discovery import NotServed
from cozyplan_kubernetes.waits import condition_check

CheckFn = Callable[[Api, Any, Callable[[float], float]], Awaitable[list[str]]]


@dataclass(frozen=True)
class CheckType:
    name: str
    params: type[BaseModel]
    run: CheckFn
    #: a probe changes the cluster to see it work (creates and deletes a claim, say): it runs
    #: when the check is applied, never at plan or refresh, which change nothing
    probe: bool = False


REGISTRY: dict[str, CheckType] = {}


def check(
    name: str, params: type[BaseModel], *, probe: bool = False
) -> Callable[[CheckFn], CheckFn]:
    def register(fn: CheckFn) -> CheckFn:
        REGISTRY[name] = CheckType(name, params, fn, probe)
        return fn

    return register


# -- nodes Ready ----------------------------------------------------------------------------------
class NodesReady(SpecModel):
    count: int = Field(1, ge=0, description="at least this many nodes, all Ready")
    selector: str | None = Field(None, description="label selector of the nodes to count")


@check("nodes_ready", NodesReady)
async def nodes_ready(api: Api, p: NodesReady, scale: Callable[[float], float]) -> list[str]:
    kind = await api.kind("v1", "Node")
    nodes, _ = await api.list(kind, label_selector=p.selector)
    failures = []
    ready = 0
    for node in nodes:
        why = condition_check("Ready")(node)
        if why is None:
            ready += 1
        else:
            failures.append(f"node {node['metadata']['name']} is not Ready ({why})")
    if ready < p.count:
        failures.insert(0, f"{ready} of {p.count} nodes Ready ({len(nodes)} found)")
    return failures


# -- no failing pods ------------------------------------------------------------------------------
FAILING_REASONS = ("CrashLoopBackOff", "ImagePullBackOff", "ErrImagePull", "Error")


class NoFailingPods(SpecModel):
    namespaces: list[str] = Field(..., min_length=1)


def pod_failures(pod: dict[str, Any]) -> list[str]:
    meta, status = pod.get("metadata") or {}, pod.get("status") or {}
    where = f"pod {meta.get('namespace')}/{meta.get('name')}"
    out = []
    if status.get("phase") == "Failed":
        out.append(f"{where} Failed: {status.get('reason') or status.get('message') or ''}".strip())
    for cs in [
        *(status.get("initContainerStatuses") or []),
        *(status.get("containerStatuses") or []),
    ]:
        state = cs.get("state") or {}
        reason = (state.get("waiting") or {}).get("reason") or (
            (state.get("terminated") or {}).get("reason")
        )
        if reason in FAILING_REASONS:
            message = (state.get("waiting") or state.get("terminated") or {}).get("message")
            out.append(
                f"{where} container {cs.get('name')}: {reason}"
                + (f": {message}" if message else "")
            )
    return out


@check("no_failing_pods", NoFailingPods)
async def no_failing_pods(api: Api, p: NoFailingPods, scale: Callable[[float], float]) -> list[str]:
    kind = await api.kind("v1", "Pod")
    failures: list[str] = []
    for ns in p.namespaces:
        pods, _ = await api.list(kind, ns)
        for pod in pods:
            failures += pod_failures(pod)
    return failures


# -- HelmReleases Ready ---------------------------------------------------------------------------
class HelmReleasesReady(SpecModel):
    selector: str | None = Field(
        None, description="label selector, e.g. cozystack.io/system-app=true"
    )
    namespace: str | None = Field(None, description="one namespace (default: all)")
    min_count: int = Field(1, ge=0, description="fail when fewer releases match")
    api_version: str = "helm.toolkit.fluxcd.io/v2"


@check("helmreleases_ready", HelmReleasesReady)
async def helmreleases_ready(
    api: Api, p: HelmReleasesReady, scale: Callable[[float], float]
) -> list[str]:
    try:
        kind = await api.kind(p.api_version, "HelmRelease")
    except NotServed as exc:
        return [str(exc)]
    releases, _ = await api.list(kind, p.namespace, label_selector=p.selector)
    failures = []
    if len(releases) < p.min_count:
        failures.append(f"{len(releases)} HelmReleases match, expected at least {p.min_count}")
    for hr in releases:
        why = condition_check("Ready")(hr)
        if why is not None:
            meta = hr["metadata"]
            failures.append(f"HelmRelease {meta.get('namespace')}/{meta['name']}: {why}")
    return failures


# -- a StorageClass binds a PVC -------------------------------------------------------------------
class StorageBinds(SpecModel):
    storage_class: str
    namespace: str = "default"
    size: str = "1Mi"
    timeout: float = Field(120.0, gt=0)
    image: str = Field("busybox:1.36", description="image of the consumer pod")


@check("storage_binds", StorageBinds, probe=True)
async def storage_binds(api: Api, p: StorageBinds, scale: Callable[[float], float]) -> list[str]:
    sc_kind = await api.kind("storage.k8s.io/v1", "StorageClass")
    sc = await api.get(sc_kind, p.storage_class, None)
    if sc is None:
        return [f"StorageClass {p.storage_class} does not exist"]
    pvc_kind, pod_kind = await api.kind("v1", "PersistentVolumeClaim"), await api.kind("v1", "Pod")
    name = f"cozyplan-check-{secrets.token_hex(4)}"
    labels = {"app.kubernetes.io/managed-by": "cozyplan", "cozyplan.io/check": "storage"}
    pvc = {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": name, "namespace": p.namespace, "labels": labels},
        "spec": {
            "accessModes": ["ReadWriteOnce"],
            "storageClassName": p.storage_class,
            "resources": {"requests": {"storage": p.size}},
        },
    }
    created: list[tuple[Any, str]] = []
    try:
        await api.create(pvc_kind, pvc)
        created.append((pvc_kind, name))
        if sc.get("volumeBindingMode") == "WaitForFirstConsumer":
            pod = {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": name, "namespace": p.namespace, "labels": labels},
                "spec": {
                    "restartPolicy": "Never",
                    "containers": [
                        {
                            "name": "consumer",
                            "image": p.image,
                            "command": ["true"],
                            "volumeMounts": [{"name": "v", "mountPath": "/v"}],
                        }
                    ],
                    "volumes": [{"name": "v", "persistentVolumeClaim": {"claimName": name}}],
                },
            }
            await api.create(pod_kind, pod)
            created.append((pod_kind, name))
        try:
            await api.wait(
                pvc_kind,
                name,
                p.namespace,
                lambda o: (
                    None
                    if o and (o.get("status") or {}).get("phase") == "Bound"
                    else f"phase {((o or {}).get('status') or {}).get('phase') or 'unknown'}"
                ),
                timeout=max(scale(p.timeout), min(p.timeout, 5.0)),
                what="did not bind",
                progress=lambda m: None,
            )
        except Exception as exc:
            return [f"a {p.size} PVC of StorageClass {p.storage_class} did not bind: {exc}"]
        return []
    finally:
        for kind, obj in reversed(created):
            with contextlib.suppress(Exception):  # best effort: the check's result stands
                await api.delete(kind, obj, p.namespace, "Background")


# -- a LoadBalancer Service gets an address ------------------------------------------------------
class LoadBalancerAddress(SpecModel):
    namespace: str
    name: str


@check("load_balancer", LoadBalancerAddress)
async def load_balancer(
    api: Api, p: LoadBalancerAddress, scale: Callable[[float], float]
) -> list[str]:
    kind = await api.kind("v1", "Service")
    svc = await api.get(kind, p.name, p.namespace)
    where = f"Service {p.namespace}/{p.name}"
    if svc is None:
        return [f"{where} does not exist"]
    if (svc.get("spec") or {}).get("type") != "LoadBalancer":
        return [f"{where} is not of type LoadBalancer"]
    ingress = ((svc.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
    if not any(i.get("ip") or i.get("hostname") for i in ingress):
        return [f"{where} has no load-balancer address yet"]
    return []


async def run_all(
    api: Api, configured: dict[str, Any], scale: Callable[[float], float], *, probes: bool = True
) -> list[str]:
    """Every configured check (without the probes unless ``probes``), concurrently; all
    failures, in check order."""

    async def one(name: str, params: Any) -> list[str]:
        return await REGISTRY[name].run(api, params, scale)

    names = [
        n
        for n, ct in REGISTRY.items()
        if configured.get(n) is not None and (probes or not ct.probe)
    ]
    results = await asyncio.gather(*(one(n, configured[n]) for n in names))
    return [f"{n}: {line}" for n, lines in zip(names, results, strict=True) for line in lines]
