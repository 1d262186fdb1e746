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
