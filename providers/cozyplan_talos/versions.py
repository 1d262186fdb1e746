"""Which Talos release CozyStack v0.37.2 runs on, and spotting older ones in a spec."""

from __future__ import annotations

import re

#: CozyStack v0.37.2 builds its Talos image from v1.10.6 (packages/core/installer/images/talos)
COZYSTACK_TALOS = (1, 10)
COZYSTACK_TALOS_TEXT = "v1.10.6"

_VERSION = re.compile(r"\bv?1\.(\d+)(?:\.(\d+))?\b")


def older_talos(text: str) -> str | None:
    """The Talos version named in an image reference or URL if it predates CozyStack's."""
    low = text.lower()
    if "talos" not in low and "siderolabs/installer" not in low:
        return None
    for match in _VERSION.finditer(text):
        minor = int(match.group(1))
        if (1, minor) < COZYSTACK_TALOS:
            return match.group(0)
    return None


def warning_for(text: str) -> list[str]:
    found = older_talos(text)
    if found is None:
        return []
    return [
        f"Talos {found} is older than the {COZYSTACK_TALOS_TEXT} CozyStack v0.37.2 targets "
        "(the runbook's v1.8 lacks what its drbd/zfs/lldpd extensions need); use "
        f"ghcr.io/cozystack/cozystack/talos:{COZYSTACK_TALOS_TEXT} or a factory image of that "
        "release"
    ]
