"""The machine-config settings CozyStack v0.37.2 requires.

From its Talos guide (website ``docs/v0/install/kubernetes/talosctl.md``: ``patch.yaml`` for
every node, ``patch-controlplane.yaml`` for control planes) and ``hack/e2e-prepare-cluster.bats``.
The network-specific parts (the VIP, etcd's and the kubelet's subnets) come from inputs.
"""

from __future__ import annotations

from typing import Any

POD_SUBNET = "10.244.0.0/16"
SERVICE_SUBNET = "10.96.0.0/16"
DNS_DOMAIN = "cozy.local"
KERNEL_MODULES = ("openvswitch", "drbd", "zfs", "spl", "vfio_pci", "vfio_iommu_type1")
#: without it MetalLB never announces on a cluster made only of control planes
EXCLUDE_LB_LABEL = "node.kubernetes.io/exclude-from-external-load-balancers"
#: neighbour-table sizes for many pods/VMs per node
SYSCTLS = {
    "net.ipv4.neigh.default.gc_thresh1": "4096",
    "net.ipv4.neigh.default.gc_thresh2": "8192",
    "net.ipv4.neigh.default.gc_thresh3": "16384",
}
#: the host's LVM must not scan DRBD, device-mapper or ZFS volumes (LINSTOR's)
LVM_CONF = """\
backup {
  backup = 0
  archive = 0
}
devices {
  global_filter = [ "r|^/dev/drbd.*|", "r|^/dev/dm-.*|", "r|^/dev/zd.*|" ]
}
"""
#: CozyStack's minimum per node (docs install/hardware-requirements.md)
MIN_MEMORY_MIB = 16384
INSTALL_IMAGE = "ghcr.io/cozystack/cozystack/talos:v1.10.6"

_CRI_CUSTOMIZATION = """\
[plugins]
  [plugins."io.containerd.cri.v1.runtime"]
    device_ownership_from_security_context = true
"""


def patch(
    machine_type: str,
    *,
    vip: str | None = None,
    node_subnet: str | None = None,
    interface: str = "eth0",
) -> dict[str, Any]:
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
    kubelet: dict[str, Any] = {"extraConfig": {"maxPods": 512}}
    if node_subnet:
        kubelet["nodeIP"] = {"validSubnets": [node_subnet]}
    machine: dict[str, Any] = {
        "kernel": {"modules": modules},
        "kubelet": kubelet,
        "sysctls": dict(SYSCTLS),
        "files": [
            {
                "content": _CRI_CUSTOMIZATION,
                "path": "/etc/cri/conf.d/20-customization.part",
                "op": "create",
            },
            {
                "content": LVM_CONF,
                "permissions": 0o644,
                "path": "/etc/lvm/lvm.conf",
                "op": "overwrite",
            },
        ],
    }
    if machine_type == "controlplane":
        machine["nodeLabels"] = {EXCLUDE_LB_LABEL: {"$patch": "delete"}}
        if vip:
            machine["network"] = {"interfaces": [{"interface": interface, "vip": {"ip": vip}}]}
        cluster["allowSchedulingOnControlPlanes"] = True
        cluster["controllerManager"] = {"extraArgs": {"bind-address": "0.0.0.0"}}
        cluster["scheduler"] = {"extraArgs": {"bind-address": "0.0.0.0"}}
        cluster["discovery"] = {"enabled": False}
        if node_subnet:
            cluster["etcd"] = {"advertisedSubnets": [node_subnet]}
    return {"machine": machine, "cluster": cluster}
