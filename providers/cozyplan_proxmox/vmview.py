"""What a VM's config is, will be, and runs with: ``GET pending`` and local bookkeeping.

On a running VM Proxmox VE defers most config changes (memory, cores, sockets, cpu, agent...)
to a ``[PENDING]`` section until the next start; ``GET config`` answers the pending values.
One ``GET .../pending`` gives both the running (``value``) and the pending values, so a read
costs one request. A fresh clone's config is predicted from its template's (read once per run)
and the writes cozyplan makes are applied locally, so creating a VM needs no config reads.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from cozyplan_proxmox.client import PveClient
from cozyplan_proxmox.errors import ApiPermanentError
from cozyplan_proxmox.models import Disk
from cozyplan_proxmox.normalize import DISK_KEY_RE, canonical_size, parse_props, size_bytes
from cozyplan_proxmox.qemu import vm_path

_CLOUDINIT_RE = re.compile(r"^[^:]+:(\d+/)?(vm|base)-\d+-cloudinit(\.qcow2|\.raw)?$")
#: keys a running VM takes at once (fast plug + default hotplug network,disk,usb)
_HOT_RE = re.compile(
    r"^(description|name|onboot|protection|startup|tags|ipconfig\d+|nameserver|searchdomain|"
    r"ciuser|cipassword|sshkeys|citype|net\d+|balloon|cpuunits|cpulimit|"
    r"(scsi|virtio|sata|ide)\d+|delete)$"
)


def needs_reboot(key: str) -> bool:
    """Whether a change of ``key`` on a running VM waits for a reboot."""
    return not _HOT_RE.match(key)


def is_cloudinit(value: str) -> bool:
    volid, _ = parse_props(str(value), "file")
    return bool(_CLOUDINIT_RE.match(volid))


def cloudinit_slot(config: dict[str, Any]) -> str | None:
    return next(
        (k for k in sorted(config) if DISK_KEY_RE.match(k) and is_cloudinit(str(config[k]))),
        None,
    )


@dataclass
class VmView:
    """``configured``: the config with pending values (what the VM runs after a reboot);
    ``pending``: the keys whose running value differs."""

    configured: dict[str, Any]
    pending: list[str] = field(default_factory=list)


async def read_view(client: PveClient, node: str, vmid: int) -> VmView | None:
    try:
        entries: list[dict[str, Any]] = await client.call("GET", vm_path(node, vmid) + "/pending")
    except ApiPermanentError as exc:
        if "does not exist" in exc.pve_message:
            return None
        raise
    configured: dict[str, Any] = {}
    pending: list[str] = []
    for e in entries or []:
        key = str(e["key"])
        if "pending" in e:
            configured[key] = e["pending"]
            pending.append(key)
        elif int(e.get("delete", 0) or 0):
            pending.append(key)
        elif "value" in e:
            configured[key] = e["value"]
    return VmView(configured, sorted(pending))


def predicted_clone(
    template: dict[str, Any], vmid: int, name: str, storage: str | None
) -> dict[str, Any]:
    """The config a clone of ``template`` starts with (disks on ``storage`` when given, new
    MACs the provider never needs to know)."""
    config: dict[str, Any] = {}
    for key, value in template.items():
        if key in ("template", "lock", "vmgenid", "digest"):
            continue
        if DISK_KEY_RE.match(key):
            volid, props = parse_props(str(value), "file")
            if props.get("media") == "cdrom" and not is_cloudinit(str(value)):
                config[key] = value
                continue
            src_storage = volid.split(":", 1)[0]
            kind = "cloudinit" if is_cloudinit(str(value)) else key
            new = f"{storage or src_storage}:vm-{vmid}-{kind}"
            config[key] = ",".join([new, *(f"{k}={v}" for k, v in props.items())])
        elif key.startswith("net") and key[3:].isdigit():
            head, _, rest = str(value).partition(",")
            config[key] = ",".join([head.partition("=")[0], rest]).rstrip(",")
        else:
            config[key] = value
    config["name"] = name
    return config


def settle(
    config: dict[str, Any], params: dict[str, Any], vmid: int, disks: list[Disk]
) -> dict[str, Any]:
    """``config`` after the write ``params`` and growing ``disks`` to their sizes."""
    out = dict(config)
    for key in str(params.get("delete") or "").split(","):
        if key:
            out.pop(key, None)
    specs = {d.slot: d for d in disks}
    for key, value in params.items():
        if key == "delete" or value is None:
            continue
        text = str(value)
        first, props = parse_props(text, "file")
        if DISK_KEY_RE.match(key) and first.endswith(":cloudinit"):
            props["media"] = "cdrom"
            out[key] = ",".join([f"{first[: -len('cloudinit')]}vm-{vmid}-cloudinit"])
            out[key] += "".join(f",{k}={v}" for k, v in props.items())
        elif DISK_KEY_RE.match(key) and key in specs and key not in config:
            disk = specs[key]
            opts = "".join(f",{k}={v}" for k, v in disk.options.items())
            out[key] = f"{disk.storage}:vm-{vmid}-{key}{opts},size={disk.size or '4G'}"
        else:
            out[key] = value
    for disk in disks:
        if disk.size and disk.slot in out:
            volid, props = parse_props(str(out[disk.slot]), "file")
            have = props.get("size")
            if have is None or size_bytes(have) < size_bytes(disk.size):
                props["size"] = canonical_size(disk.size)
                out[disk.slot] = ",".join([volid, *(f"{k}={v}" for k, v in props.items())])
    return out


class TemplateConfigs:
    """Each template's config, read once per run (a template never changes in place)."""

    def __init__(self, client: PveClient) -> None:
        self._client = client
        self._configs: dict[tuple[str, int], dict[str, Any]] = {}

    async def get(self, node: str, vmid: int) -> dict[str, Any]:
        key = (node, vmid)
        found = self._configs.get(key)
        if found is None:
            found = await self._client.call("GET", vm_path(node, vmid) + "/config", current=1)
            self._configs[key] = found
        return found
