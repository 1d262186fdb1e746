"""Shared QEMU steps: config <-> models, waiting for locks, power, delete."""

from __future__ import annotations

import asyncio
from typing import Any

from cozyplan.provider import TemporaryError
from cozyplan_proxmox.client import PveClient
from cozyplan_proxmox.errors import ApiPermanentError
from cozyplan_proxmox.models import Disk, Net
from cozyplan_proxmox.normalize import (
    DISK_KEY_RE,
    canonical_size,
    gib,
    parse_props,
    size_bytes,
    truthy,
)


def vm_path(node: str, vmid: int) -> str:
    return f"nodes/{node}/qemu/{vmid}"


def disk_from_config(slot: str, value: str, current: Disk | None) -> Disk:
    volid, props = parse_props(value, "file")
    size = props.pop("size", None)
    props.pop("import-from", None)
    storage = volid.split(":", 1)[0] if ":" in volid else volid
    return Disk(
        slot=slot,
        storage=storage,
        size=canonical_size(size) if size and (current is None or current.size) else None,
        import_from=current.import_from if current else None,
        options=props,
    )


def disks_from_config(config: dict[str, Any], current: list[Disk]) -> list[Disk]:
    """The disks of ``current`` (the managed slots) as the config shows them now."""
    out = []
    for disk in current:
        value = config.get(disk.slot)
        if value is not None:
            out.append(disk_from_config(disk.slot, str(value), disk))
    return out


def net_from_config(slot: str, value: str, current: Net | None) -> Net:
    head, _, rest = str(value).partition(",")
    _, props = parse_props(rest, "-")
    model, _, mac = head.partition("=")
    tag = props.get("tag")
    return Net(
        slot=slot,
        model=model,
        bridge=props.get("bridge", ""),
        firewall=(
            truthy(props.get("firewall", "0"))
            if current is None or current.firewall is not None
            else None
        ),
        tag=int(tag) if tag else None,
        macaddr=mac.upper() if mac and (current is None or current.macaddr) else None,
    )


def nets_from_config(config: dict[str, Any], current: list[Net]) -> list[Net]:
    return [net_from_config(n.slot, str(config[n.slot]), n) for n in current if n.slot in config]


def net_param(net: Net) -> str:
    first = f"{net.model}={net.macaddr}" if net.macaddr else net.model
    parts = [first, f"bridge={net.bridge}"]
    if net.firewall is not None:
        parts.append(f"firewall={1 if net.firewall else 0}")
    if net.tag is not None:
        parts.append(f"tag={net.tag}")
    return ",".join(parts)


def new_disk_param(disk: Disk) -> str:
    """``STORAGE:SIZE[,import-from=VOLID],opts`` to allocate (or import) a disk."""
    if disk.import_from:
        parts = [f"{disk.storage}:0", f"import-from={disk.import_from}"]
    else:
        parts = [f"{disk.storage}:{gib(disk.size or '4G')}"]
    parts += [f"{k}={v}" for k, v in disk.options.items()]
    return ",".join(parts)


def disk_options_param(value: str, disk: Disk) -> str | None:
    """The existing disk's config string with the spec's options, or None if unchanged."""
    volid, props = parse_props(value, "file")
    size = props.pop("size", None)
    if props == disk.options:
        return None
    parts = [volid, *(f"{k}={v}" for k, v in disk.options.items())]
    if size:
        parts.append(f"size={size}")
    return ",".join(parts)


def extra_from_config(config: dict[str, Any], current: dict[str, str]) -> dict[str, str]:
    return {k: str(config[k]) for k in current if k in config}


async def grow_disks(
    client: PveClient, node: str, vmid: int, disks: list[Disk], config: dict[str, Any]
) -> None:
    """Grow each disk that is smaller than the spec (an imported or cloned disk keeps its
    source's size); Proxmox only grows disks."""
    for disk in disks:
        if not disk.size or disk.slot not in config:
            continue
        have = disks_from_config(config, [disk])[0]
        if have.size and size_bytes(have.size) < size_bytes(disk.size):
            await client.run_task(
                "PUT",
                vm_path(node, vmid) + "/resize",
                node,
                f"resize {disk.slot} of {vmid}",
                disk=disk.slot,
                size=disk.size,
            )


async def get_config(
    client: PveClient, node: str, vmid: int, *, current: bool = False
) -> dict[str, Any] | None:
    """The VM's config (with pending values; ``current``: the running ones), None if gone."""
    try:
        config: dict[str, Any] = await client.call(
            "GET", vm_path(node, vmid) + "/config", current=1 if current else None
        )
    except ApiPermanentError as exc:
        if "does not exist" in exc.pve_message:
            return None
        raise
    return config


async def wait_unlocked(
    client: PveClient, node: str, vmid: int, what: str, timeout: float = 600.0
) -> dict[str, Any] | None:
    """The config once no ``lock`` (clone, create...) is set; None if the VM vanished."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    interval = 0.2
    while True:
        config = await get_config(client, node, vmid)
        if config is None or not config.get("lock"):
            return config
        if loop.time() > deadline:
            raise TemporaryError(f"{what}: VM {vmid} is still locked ({config['lock']})")
        await asyncio.sleep(client.ctx.scaled(interval))
        interval = min(2.0, interval * 1.5)


async def set_power(client: PveClient, node: str, vmid: int, started: bool, status: str) -> None:
    what = f"VM {vmid}"
    if started and status != "running":
        try:
            await client.run_task(
                "POST", vm_path(node, vmid) + "/status/start", node, f"start {what}"
            )
        except ApiPermanentError as exc:
            if "already running" not in exc.pve_message:
                raise
    elif not started and status == "running":
        try:
            await client.run_task(
                "POST",
                vm_path(node, vmid) + "/status/shutdown",
                node,
                f"shutdown {what}",
                timeout=120,
                forceStop=1,
            )
        except ApiPermanentError as exc:
            if "not running" not in exc.pve_message:
                raise


async def current_status(client: PveClient, node: str, vmid: int) -> str:
    status = await client.call("GET", vm_path(node, vmid) + "/status/current")
    return str(status.get("status", ""))


async def destroy(client: PveClient, node: str, vmid: int) -> None:
    """Stop (hard) and delete the VM with its disks; already gone is success."""
    config = await wait_unlocked(client, node, vmid, f"delete VM {vmid}")
    if config is None:
        return
    if await current_status(client, node, vmid) == "running":
        await client.run_task("POST", vm_path(node, vmid) + "/status/stop", node, f"stop VM {vmid}")
    try:
        await client.run_task(
            "DELETE",
            vm_path(node, vmid),
            node,
            f"delete VM {vmid}",
            purge=1,
            **{"destroy-unreferenced-disks": 1},
        )
    except ApiPermanentError as exc:
        if "does not exist" not in exc.pve_message:
            raise


def managed_disk_keys(config: dict[str, Any]) -> list[str]:
    return sorted(k for k in config if DISK_KEY_RE.match(k))
