"""What a Proxmox spec for CozyStack v0.37.2 commonly gets wrong (warnings, not errors)."""

from __future__ import annotations

import re

_TALOS_MINOR = re.compile(r"\bv?1\.(\d+)(?:\.\d+)?\b")


def image_warnings(url: str, filename: str) -> list[str]:
    """A Talos image older than v1.10: CozyStack v0.37.2 is built on Talos v1.10.6."""
    text = f"{url} {filename}"
    if "talos" not in text.lower():
        return []
    for match in _TALOS_MINOR.finditer(text):
        if int(match.group(1)) < 10:
            return [
                f"this Talos image is {match.group(0)}, but CozyStack v0.37.2 targets Talos "
                "v1.10.6 (the runbook's v1.8 is too old); stock images have no "
                "qemu-guest-agent either: give VMs static addresses, or add the "
                "siderolabs/qemu-guest-agent extension in the Image Factory"
            ]
    return []


_COMPRESSED = (".xz", ".zst", ".gz", ".bz2", ".lzo", ".lz4")


def download_warnings(url: str, content: str) -> list[str]:
    """Proxmox VE stores an ``import`` download exactly as fetched (it decompresses only iso)."""
    path = url.split("?", 1)[0].lower()
    if content != "iso" and path.endswith(_COMPRESSED):
        return [
            f"{url} is compressed, but Proxmox VE decompresses only iso downloads: the "
            f"{content} volume would hold the compressed bytes and the VM would not boot; "
            "download the uncompressed .raw or the .qcow2 image instead"
        ]
    return []


def cpu_warnings(cpu: object) -> list[str]:
    """``kvm64`` (also what an unset cpu means) lacks x86-64-v2: Talos does not boot on it."""
    if cpu is None or (
        isinstance(cpu, str)
        and cpu.split(",")[0].removeprefix("cputype=")
        in (
            "kvm64",
            "qemu64",
        )
    ):
        return [
            f"cpu {cpu or 'unset (kvm64)'}: Talos needs x86-64-v2 and does not boot on "
            "kvm64/qemu64; CozyStack asks for host (nested virtualisation for KubeVirt)"
        ]
    return []


_CLONERS = {"PVEVMAdmin", "PVEAdmin", "PVETemplateUser", "Administrator"}
_SDN_USE = {"PVESDNUser", "PVESDNAdmin", "PVEAdmin", "Administrator"}
_DATASTORE_ALLOCATE = {"PVEDatastoreAdmin", "PVEAdmin", "Administrator"}


def token_acl_warnings(acl: object) -> list[str]:
    """What a token for capmox / proxmox-csi needs beyond VM roles (pve-access-control roles)."""
    if not isinstance(acl, list):
        return []
    roles = {str(r) for e in acl if isinstance(e, dict) for r in e.get("roles") or []}
    if not roles & _CLONERS:
        return []
    out: list[str] = []
    if not roles & _SDN_USE:
        out.append(
            "this token may clone VMs but has no SDN.Use: Proxmox VE refuses a clone with "
            "'Permission check failed (/sdn/zones/localnetwork/vmbr0, SDN.Use)'; grant "
            "PVESDNUser on /sdn/zones/localnetwork (or the bridge)"
        )
    if not roles & _DATASTORE_ALLOCATE:
        out.append(
            "no Datastore.Allocate / Datastore.AllocateTemplate: proxmox-csi allocates volumes "
            "and capmox uploads ISOs with them (PVEDatastoreUser has only AllocateSpace and "
            "Audit); grant PVEDatastoreAdmin on /storage (or the storages used)"
        )
    return out
