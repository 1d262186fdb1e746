"""Disk sizes and property strings as Proxmox VE writes them in VM configs."""

from __future__ import annotations

import re

_UNITS = {"": 1, "K": 1024, "M": 1024**2, "G": 1024**3, "T": 1024**4}
_SIZE_RE = re.compile(r"^\+?(\d+(?:\.\d+)?)([KMGT]?)$")
DISK_KEY_RE = re.compile(r"^(scsi|virtio|sata|ide|efidisk|tpmstate)\d+$")


def parse_size(text: str) -> int:
    """``50G`` / ``51200M`` / ``53687091200`` -> bytes (PVE's ``parse_size``)."""
    m = _SIZE_RE.match(text.strip())
    if m is None:
        raise ValueError(f"invalid size '{text}'")
    return int(float(m.group(1)) * _UNITS[m.group(2)])


def format_size(size: int) -> str:
    """Bytes -> the largest unit that divides exactly (PVE's ``format_size``)."""
    for unit in ("T", "G", "M", "K"):
        if size % _UNITS[unit] == 0 and size >= _UNITS[unit]:
            return f"{size // _UNITS[unit]}{unit}"
    return str(size)


def parse_props(text: str, default_key: str) -> tuple[str, dict[str, str]]:
    """``local-lvm:vm-1-disk-0,size=8G`` -> (``local-lvm:vm-1-disk-0``, {size: 8G})."""
    first = ""
    props: dict[str, str] = {}
    for i, part in enumerate(p for p in text.split(",") if p):
        if "=" in part:
            key, value = part.split("=", 1)
            props[key] = value
        elif i == 0:
            first = part
        else:
            props[part] = "1"
    if not first and default_key in props:
        first = props.pop(default_key)
    return first, props


def print_props(first: str, props: dict[str, str]) -> str:
    return ",".join([first, *(f"{k}={v}" for k, v in props.items())])


_CLOUDINIT_RE = re.compile(r"^[^:]+:(\d+/)?vm-\d+-cloudinit(\.qcow2|\.raw)?$")


def is_cloudinit(value: str) -> bool:
    """True for a drive value whose volume is a ``vm-<vmid>-cloudinit`` disk."""
    volid, _ = parse_props(value, "file")
    return bool(_CLOUDINIT_RE.match(volid))


def cloudinit_slot(config: dict[str, object]) -> str | None:
    """The drive slot holding the VM's cloud-init disk, if any (qemu-server ``has_cloudinit``)."""
    return next(
        (k for k in sorted(config) if DISK_KEY_RE.match(k) and is_cloudinit(str(config[k]))),
        None,
    )
