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

from cozyplan.lab.framework import FaultInjector

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


class Faults(FaultInjector):
    simulator = "kubernetes"
    kinds = ("error", "throttle", "drop")
    default_latency = DEFAULT_LATENCY
