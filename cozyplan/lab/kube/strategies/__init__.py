"""Per-kind behaviour over the one generic store: one strategy class per kind."""

from __future__ import annotations

from cozyplan.lab.kube.resources import ResourceType
from cozyplan.lab.kube.strategies.base import Column, Obj, Strategy, age
from cozyplan.lab.kube.strategies.core import (
    ConfigMapStrategy,
    EventStrategy,
    NamespaceStrategy,
    NodeStrategy,
    SecretStrategy,
    ServiceStrategy,
)
from cozyplan.lab.kube.strategies.pods import PodStrategy
from cozyplan.lab.kube.strategies.storage import PvcStrategy, PvStrategy, StorageClassStrategy
from cozyplan.lab.kube.strategies.workloads import JobStrategy, WorkloadStrategy

__all__ = ["Column", "Obj", "Strategy", "age", "strategy_for"]

_BY_KIND: dict[tuple[str, str], type[Strategy]] = {
    ("", "Namespace"): NamespaceStrategy,
    ("", "ConfigMap"): ConfigMapStrategy,
    ("", "Secret"): SecretStrategy,
    ("", "Service"): ServiceStrategy,
    ("", "Pod"): PodStrategy,
    ("", "Node"): NodeStrategy,
    ("", "PersistentVolumeClaim"): PvcStrategy,
    ("", "PersistentVolume"): PvStrategy,
    ("", "Event"): EventStrategy,
    ("apps", "Deployment"): WorkloadStrategy,
    ("apps", "DaemonSet"): WorkloadStrategy,
    ("apps", "StatefulSet"): WorkloadStrategy,
    ("apps", "ReplicaSet"): WorkloadStrategy,
    ("batch", "Job"): JobStrategy,
    ("storage.k8s.io", "StorageClass"): StorageClassStrategy,
}


def strategy_for(rt: ResourceType) -> Strategy:
    if rt.custom:
        from cozyplan.lab.kube.crd import CustomStrategy

        return CustomStrategy(rt)
    if rt.group == "apiextensions.k8s.io":
        from cozyplan.lab.kube.crd import CrdStrategy

        return CrdStrategy(rt)
    return _BY_KIND.get((rt.group, rt.kind), Strategy)(rt)
