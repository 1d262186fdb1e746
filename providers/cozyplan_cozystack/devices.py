"""Which guest device a Proxmox VM disk slot becomes.

Linux names SCSI disks in target order (``sda``, ``sdb``...): with one disk per ``scsiN`` slot
(``virtio-scsi-single``, Proxmox's default), the k-th scsi slot by number is ``/dev/sd<k>``;
``virtioN`` disks are ``/dev/vd<k>`` the same way. The VM's own disk list decides, so the data
disk's device is never hard-coded twice.
"""

from __future__ import annotations

import re
import string
from collections.abc import Mapping, Sequence
from typing import Any

_SLOT = re.compile(r"^(scsi|virtio|sata|ide)(\d+)$")
_PREFIX = {"scsi": "sd", "sata": "sd", "virtio": "vd"}


def guest_device(disks: Sequence[Mapping[str, Any]], slot: str) -> str:
    """``/dev/sdb`` for ``scsi1`` of a VM with scsi0 and scsi1; ValueError when absent."""
    slots = [str(d.get("slot")) for d in disks if isinstance(d, Mapping)]
    if slot not in slots:
        raise ValueError(
            f"the VM has no disk {slot} (its disks: {', '.join(sorted(slots)) or 'none'}); "
            f"add a data disk {slot} to the proxmox_vm for LINSTOR"
        )
    m = _SLOT.match(slot)
    if m is None or m.group(1) not in _PREFIX:
        raise ValueError(f"{slot}: only scsi, sata and virtio disks can hold LINSTOR's pool")
    bus = m.group(1)
    family = ("virtio",) if bus == "virtio" else ("scsi", "sata")
    ordered: list[tuple[int, int, str]] = []
    for other in slots:
        om = _SLOT.match(other)
        if om is not None and om.group(1) in family:
            ordered.append((family.index(om.group(1)), int(om.group(2)), other))
    index = [s for _, _, s in sorted(ordered)].index(slot)
    return f"/dev/{_PREFIX[bus]}{string.ascii_lowercase[index]}"
