"""Out-of-band changes for ``cozyplan lab drift KIND``: what an operator (or a failure) does to
the lab behind cozyplan's back, so that ``refresh`` and ``apply`` can be shown healing it.

Each kind is made by the simulator that owns the thing (through its own wire protocol where one
exists: the Kubernetes API for cluster objects, the Proxmox task machinery for a VM), never by
editing cozyplan's state. The defaults name what ``specs/cozystack.yaml`` creates.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class DriftKind:
    name: str
    simulator: str
    #: what it does, in an operator's words
    summary: str
    #: the resources and attributes ``refresh`` then names (for the docs and the CLI's hint)
    shows: str
    args: dict[str, Any] = field(default_factory=dict)


KINDS: dict[str, DriftKind] = {
    k.name: k
    for k in (
        DriftKind(
            "stop-vm",
            "proxmox",
            "stop VM 1001 (cozy-new-cp1), as `qm stop 1001` on the host would",
            "proxmox_vm.cp[cp1]: started: true -> false (and k8s_check.day5: the node NotReady)",
            {"node": "pve", "vmid": 1001},
        ),
        DriftKind(
            "configmap",
            "cozystack",
            'set telemetry-enabled to "true" in ConfigMap cozy-system/cozystack (kubectl edit)',
            'cozystack_platform.main.config.telemetry-enabled: "false" -> "true"',
            {
                "namespace": "cozy-system",
                "name": "cozystack",
                "key": "telemetry-enabled",
                "value": "true",
            },
        ),
        DriftKind(
            "helmrelease",
            "cozystack",
            "make HelmRelease cozy-metallb/metallb fail its upgrade once (Flux then stops "
            "retrying until a reconcile is requested, as after exhausted remediation retries)",
            "cozystack_platform.main: ready: true -> false (and k8s_check.day5: the release)",
            {"release": "cozy-metallb/metallb"},
        ),
        DriftKind(
            "host-file",
            "host",
            'change runtime.log_level to "debug" in /etc/nexcage/config.json on the Proxmox '
            "host (an edit over SSH)",
            'host_nexcage.main.config.runtime.log_level: "info" -> "debug"',
            {"host": "10.0.0.1", "path": "/etc/nexcage/config.json"},
        ),
        DriftKind(
            "tenant-app",
            "cozystack",
            "delete the Postgres app tenant-test/test-db (kubectl delete postgres test-db)",
            "cozystack_app.test_db: deleted outside cozyplan",
            {
                "api_version": "apps.cozystack.io/v1alpha1",
                "kind": "Postgres",
                "namespace": "tenant-test",
                "name": "test-db",
            },
        ),
    )
}


def request(kind: str, overrides: dict[str, Any] | None = None) -> tuple[str, dict[str, Any]]:
    """The simulator and the control arguments of ``kind`` (``overrides`` replace defaults)."""
    spec = KINDS[kind]
    return spec.simulator, {"drift": kind, **spec.args, **(overrides or {})}
