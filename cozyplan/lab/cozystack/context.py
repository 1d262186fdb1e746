"""What every CozyStack controller of one lab cluster shares: its API client, clock and faults."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from cozyplan.lab.cozystack.client import KubeClient
from cozyplan.lab.framework import LabWorld
from cozyplan.upstream.cozystack import Release

Obj = dict[str, Any]
HR_API = "helm.toolkit.fluxcd.io/v2"


def now_iso() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def condition(kind: str, status: str, reason: str, message: str) -> Obj:
    return {
        "type": kind,
        "status": status,
        "reason": reason,
        "message": message,
        "lastTransitionTime": now_iso(),
    }


def deployment(
    name: str, namespace: str, labels: dict[str, str], container: str, image: str
) -> Obj:
    """A one-replica Deployment of one container, as a chart installs an operator."""
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace, "labels": labels},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": container, "image": image}]},
            },
        },
    }


def same_condition(obj: Obj | None, wanted: Obj) -> bool:
    for cond in ((obj or {}).get("status") or {}).get("conditions") or []:
        if cond.get("type") == wanted["type"]:
            return all(cond.get(k) == wanted[k] for k in ("status", "reason", "message"))
    return False


@dataclass
class ClusterContext:
    cluster_id: str
    world: LabWorld
    client: KubeClient
    release: Release
    #: ``namespace/name`` of a HelmRelease -> the error its install fails with
    faults: dict[str, str]
    publish: Callable[[str, dict[str, Any]], Any]
    state: dict[str, Any] = field(default_factory=dict)  # persistent, world data
    #: faults that last until a reconcile is requested: ``namespace/name`` -> the HelmRelease's
    #: ``reconcile.fluxcd.io/requestedAt`` when it failed (Flux's exhausted retries)
    stalled: dict[str, str] = field(default_factory=dict)
    clock: Callable[[], float] = time.monotonic
    #: the ``apply_once`` sets this process has applied (or found applied by an earlier run)
    applied: set[str] = field(default_factory=set)

    def scaled(self, seconds: float) -> float:
        return self.world.scaled(seconds)
