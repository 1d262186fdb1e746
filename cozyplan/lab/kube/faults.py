"""Latency and fault injection, read live from ``world.option("kubernetes", ...)`` (as the Proxmox
simulator's: ``cozyplan lab up --set kubernetes.error_rate=0.1``).

Options (all optional):
``latency``: {operation: simulated seconds} overriding ``DEFAULT_LATENCY``;
``error_rate``: share of API requests answered 500 (InternalError) or 503 (ServiceUnavailable);
``throttle_rate``: share answered 429 TooManyRequests with ``Retry-After``;
``drop_rate``: share whose connection is dropped (half before, half after the write was done);
``watch_window``: how many events the watch window keeps (older resourceVersions get 410);
``image_pull_errors`` / ``crashing_images``: image substrings whose pods end in
ImagePullBackOff / CrashLoopBackOff.
Watches are never failed by the rates (they are long requests), discovery is.
"""

from __future__ import annotations

from typing import Any

from cozyplan.lab.framework import LabWorld

DEFAULT_LATENCY: dict[str, float] = {
    "request": 0.0,
    "pod_start": 4.0,  # a pod of a workload becomes ready
    "job_run": 5.0,  # a job's pods run to completion
    "crd_names": 0.5,  # a CRD's names are accepted
    "crd_established": 1.0,  # then it is established
    "namespace_cleanup": 0.5,  # the namespace controller's pass
    "gc": 0.2,  # the garbage collector notices a deleted owner
    "bookmark": 10.0,  # interval of watch bookmarks
    "node_ready": 2.0,  # a node turns Ready after the CNI is up
    "provision": 2.0,  # a dynamically provisioned volume is bound
}


class Faults:
    def __init__(self, world: LabWorld) -> None:
        self.world = world
        self.injected: dict[str, int] = {"error": 0, "throttle": 0, "drop": 0}

    def option(self, key: str, default: Any = None) -> Any:
        return self.world.option("kubernetes", key, default)

    def simulated(self, op: str) -> float:
        overrides: dict[str, float] = self.option("latency", {}) or {}
        return float(overrides.get(op, DEFAULT_LATENCY[op]))

    def latency(self, op: str) -> float:
        return self.world.scaled(self.simulated(op))

    def roll(self, kind: str) -> bool:
        rate = float(self.option(f"{kind}_rate", 0.0) or 0.0)
        hit = rate > 0 and self.world.rng.random() < rate
        if hit:
            self.injected[kind] += 1
        return hit
