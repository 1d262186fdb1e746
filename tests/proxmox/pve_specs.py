"""Resource bodies shared by the tests (as a spec would write them)."""

from __future__ import annotations

from typing import Any

IMAGE: dict[str, Any] = {
    "url": "https://factory.talos.dev/image/abc/v1.10.6/nocloud-amd64.qcow2",
    "filename": "talos-v1.10.6-nocloud-amd64.qcow2",
    "checksum": "0" * 64,
    "checksum_algorithm": "sha256",
}

TEMPLATE: dict[str, Any] = {
    "vmid": 9100,
    "name": "talos-template",
    "cores": 2,
    "memory": 4096,
    "agent": False,
    "disks": [
        {
            "slot": "scsi0",
            "storage": "local-lvm",
            "size": "20G",
            "import_from": "local:import/talos-v1.10.6-nocloud-amd64.qcow2",
            "options": {"discard": "on", "iothread": "1"},
        },
        {"slot": "scsi1", "storage": "local-lvm", "size": "10G"},
    ],
    "net": [{"slot": "net0", "bridge": "vmbr0", "firewall": False}],
    "extra": {"serial0": "socket"},
}


def vm(vmid: int | None, name: str, **more: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": name,
        "clone": 9100,
        "cores": 4,
        "memory": 8192,
        "disks": [
            {
                "slot": "scsi0",
                "storage": "local-lvm",
                "size": "50G",
                "options": {"discard": "on", "iothread": "1"},
            }
        ],
        "net": [{"slot": "net0", "bridge": "vmbr0"}],
        "tags": ["cozy", "talos"],
        "ipconfig0": f"ip=10.0.0.{(vmid or 0) % 250}/24,gw=10.0.0.1" if vmid else None,
        **more,
    }
    if vmid is not None:
        body["vmid"] = vmid
    return body
