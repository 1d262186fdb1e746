"""Which block devices a lab node really has: read from the lab Proxmox VM that plays it.

A Kubernetes node is played by the Proxmox VM whose static address (``ipconfig0``) is the node's
InternalIP (or whose name is the node's name). Its disks appear in the guest as Linux names them:
scsi/sata disks in slot order as ``/dev/sda``, ``/dev/sdb``...; virtio disks as ``/dev/vda``...;
CD-ROM drives (cloud-init) are not disks.
"""

from __future__ import annotations

import re
import string
from collections.abc import Mapping
from typing import Any

_DISK = re.compile(r"^(scsi|sata|virtio|ide)(\d+)$")


def _ip_of(config: Mapping[str, Any]) -> str | None:
    for part in str(config.get("ipconfig0", "")).split(","):
        if part.startswith("ip=") and "/" in part:
            return part[3:].split("/", 1)[0]
    return None


def find_vm(
    vms: Mapping[str, Mapping[str, Any]], node_name: str, node_ip: str | None
) -> Mapping[str, Any] | None:
    by_name = None
    for vm in vms.values():
        config = vm.get("config") or {}
        if config.get("template"):
            continue
        if node_ip and _ip_of(config) == node_ip:
            return vm
        if config.get("name") == node_name:
            by_name = vm
    return by_name


def guest_devices(config: Mapping[str, Any]) -> dict[str, str]:
    """device -> slot, e.g. {"/dev/sda": "scsi0", "/dev/sdb": "scsi1"}."""
    families: dict[str, list[tuple[int, int, str]]] = {"sd": [], "vd": []}
    for key, value in config.items():
        m = _DISK.match(key)
        if m is None or "media=cdrom" in str(value):
            continue
        bus, index = m.group(1), int(m.group(2))
        if bus == "virtio":
            families["vd"].append((0, index, key))
        elif bus in ("scsi", "sata"):
            families["sd"].append((0 if bus == "scsi" else 1, index, key))
    out = {}
    for prefix, slots in families.items():
        for i, (_, _, key) in enumerate(sorted(slots)):
            out[f"/dev/{prefix}{string.ascii_lowercase[i]}"] = key
    return out
