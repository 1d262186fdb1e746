"""The machine-config settings CozyStack v0.37.2 requires (its Talos install guide)."""

from __future__ import annotations

from typing import Any

POD_SUBNET = "10.244.0.0/16"
SERVICE_SUBNET = "10.96.0.0/16"
DNS_DOMAIN = "cozy.local"
KERNEL_MODULES = ("openvswitch", "drbd", "zfs", "spl")
INSTALL_IMAGE = "ghcr.io/cozystack/cozystack/talos:v1.10.6"

_CRI_CUSTOMIZATION = """\
[plugins]
  [plugins."io.containerd.cri.v1.runtime"]
    device_ownership_from_security_context = true
"""


def patch(machine_type: str) -> dict[str, Any]:
    """Settings applied over Talos's defaults before the user's patches."""
    modules: list[dict[str, Any]] = []
    for name in KERNEL_MODULES:
        module: dict[str, Any] = {"name": name}
        if name == "drbd":
            module["parameters"] = ["usermode_helper=disabled"]
        modules.append(module)
    cluster: dict[str, Any] = {
        "network": {
            "cni": {"name": "none"},
            "dnsDomain": DNS_DOMAIN,
            "podSubnets": [POD_SUBNET],
            "serviceSubnets": [SERVICE_SUBNET],
        },
        "proxy": {"disabled": True},
    }
    if machine_type == "controlplane":
        cluster["allowSchedulingOnControlPlanes"] = True
        cluster["controllerManager"] = {"extraArgs": {"bind-address": "0.0.0.0"}}
        cluster["scheduler"] = {"extraArgs": {"bind-address": "0.0.0.0"}}
    return {
        "machine": {
            "kernel": {"modules": modules},
            "kubelet": {"extraConfig": {"maxPods": 512}},
            "files": [
                {
                    "content": _CRI_CUSTOMIZATION,
                    "path": "/etc/cri/conf.d/20-customization.part",
                    "op": "create",
                }
            ],
        },
        "cluster": cluster,
    }
