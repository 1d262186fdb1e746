"""Proxmox's config strings <-> the spec's form, so refresh never shows perpetual diffs.

``local-lvm:vm-1001-disk-0,discard=on,size=50G`` is a disk on ``local-lvm`` of ``50G`` with
option ``discard=on``; sizes are canonical (largest exact unit), tags sorted and lower-case.
"""

from __future__ import annotations

import re
from typing import Any

_UNITS = {"": 1, "K": 1024, "M": 1024**2, "G": 1024**3, "T": 1024**4}
_SIZE_RE = re.compile(r"^\+?(\d+(?:\.\d+)?)\s*([KMGT]?)(?:i?B)?$", re.IGNORECASE)
DISK_KEY_RE = re.compile(r"^(scsi|virtio|sata|ide)\d+$")
LINK_LOCAL_V4 = "169.254."


def size_bytes(text: str | int) -> int:
    if isinstance(text, int):
        return text * 1024**3
    m = _SIZE_RE.match(text.strip())
    if m is None:
        raise ValueError(f"invalid size {text!r} (use e.g. 50G, 512M, 1T)")
    return int(float(m.group(1)) * _UNITS[m.group(2).upper()])


def canonical_size(text: str | int) -> str:
    size = size_bytes(text)
    for unit in ("T", "G", "M", "K"):
        if size >= _UNITS[unit] and size % _UNITS[unit] == 0:
            return f"{size // _UNITS[unit]}{unit}"
    return str(size)


def gib(text: str) -> str:
    """Size for a ``STORAGE:SIZE`` allocation (GiB, possibly fractional)."""
    value = size_bytes(text) / 1024**3
    return str(int(value)) if value.is_integer() else f"{value:.3f}".rstrip("0")


def parse_props(text: str, default_key: str) -> tuple[str, dict[str, str]]:
    first = ""
    props: dict[str, str] = {}
    for i, part in enumerate(p for p in str(text).split(",") if p):
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


def truthy(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    first, props = parse_props(str(value), "enabled")
    return str(props.get("enabled", first)).lower() in ("1", "on", "yes", "true")


def normalize_tags(tags: Any) -> list[str]:
    if isinstance(tags, str):
        tags = re.split(r"[;,\s]+", tags)
    return sorted({str(t).strip().lower() for t in tags or [] if str(t).strip()})


def config_int(value: Any) -> int | None:
    if value is None:
        return None
    first, props = parse_props(str(value), "current")
    try:
        return int(props.get("current", first))
    except ValueError:
        return None


def static_ipv4(ipconfig: str | None) -> list[str]:
    if not ipconfig:
        return []
    _, props = parse_props(ipconfig, "-")
    ip = props.get("ip", "")
    if not ip or ip in ("dhcp", "manual"):
        return []
    return [ip.split("/")[0]]
