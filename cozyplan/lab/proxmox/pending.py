"""Pending changes of a running VM, as qemu-server keeps them (``[PENDING]`` section).

A config write on a running VM goes to ``pending``; ``vmconfig_hotplug_pending`` then applies
at once only the "fast plug" options (name, tags, description, cloud-init options...) and what
the default ``hotplug: network,disk,usb`` covers (NICs, disks, balloon, cpu shares/limit).
Everything else (memory, cores, sockets, cpu, agent...) stays pending until the VM is started
again. ``GET config`` shows pending values unless ``current=1``; ``GET pending`` lists
``{key, value, pending, delete}``; pending values equal to the current ones are dropped
(``cleanup_pending``).
"""

from __future__ import annotations

import re
from typing import Any

from cozyplan.lab.proxmox.sizes import DISK_KEY_RE

_FAST_PLUG = re.compile(
    r"^(description|hookscript|lock|migrate_downtime|migrate_speed|name|onboot|protection|"
    r"shares|startup|tags|vmstatestorage|ipconfig\d+|nameserver|searchdomain|ciuser|"
    r"cipassword|sshkeys|citype|ciupgrade|cicustom)$"
)
_HOTPLUG = re.compile(r"^(net\d+|balloon|cpuunits|cpulimit)$")
#: written at once, never pending: a detached disk's volume (``add_unused_volume``)
_UNUSED = re.compile(r"^unused\d+$")


def hot(key: str) -> bool:
    """Applied to a running VM at once (fast plug, or default network/disk hotplug)."""
    if _FAST_PLUG.match(key) or _HOTPLUG.match(key) or _UNUSED.match(key):
        return True
    return bool(DISK_KEY_RE.match(key)) and not key.startswith(("efidisk", "tpmstate"))


def split_running(vm: dict[str, Any], before: dict[str, Any], after: dict[str, Any]) -> None:
    """Set ``vm``'s config from a write that turned ``before`` into ``after`` while running:
    hot keys take effect, the others join ``pending`` / ``pending_delete``."""
    config = dict(before)
    pending: dict[str, Any] = dict(vm.get("pending") or {})
    deletes: list[str] = list(vm.get("pending_delete") or [])
    for key in sorted(set(before) | set(after)):
        if before.get(key) == after.get(key):
            continue
        if hot(key):
            if key in after:
                config[key] = after[key]
            else:
                config.pop(key, None)
        elif key in after:
            pending[key] = after[key]
            if key in deletes:
                deletes.remove(key)
        else:
            pending.pop(key, None)
            if key not in deletes:
                deletes.append(key)
    vm["config"] = config
    _store(vm, pending, deletes)


def _store(vm: dict[str, Any], pending: dict[str, Any], deletes: list[str]) -> None:
    config = vm["config"]
    pending = {k: v for k, v in pending.items() if config.get(k) != v}  # cleanup_pending
    deletes = [k for k in deletes if k in config]
    if pending:
        vm["pending"] = pending
    else:
        vm.pop("pending", None)
    if deletes:
        vm["pending_delete"] = deletes
    else:
        vm.pop("pending_delete", None)


def apply_pending(vm: dict[str, Any]) -> None:
    """``vmconfig_apply_pending`` (on start, or on a write while stopped)."""
    config = vm["config"]
    for key in vm.pop("pending_delete", None) or []:
        config.pop(key, None)
    config.update(vm.pop("pending", None) or {})


def with_pending(vm: dict[str, Any]) -> dict[str, Any]:
    """The config as ``GET config`` shows it by default: pending values applied."""
    config = {k: v for k, v in vm["config"].items() if k not in (vm.get("pending_delete") or [])}
    config.update(vm.get("pending") or {})
    return config


def pending_list(vm: dict[str, Any]) -> list[dict[str, Any]]:
    """``GET .../pending``: one entry per key, current ``value``, ``pending``, ``delete``."""
    config = vm["config"]
    pending = vm.get("pending") or {}
    deletes = vm.get("pending_delete") or []
    out: list[dict[str, Any]] = []
    for key in sorted(set(config) | set(pending)):
        entry: dict[str, Any] = {"key": key}
        if key in config:
            entry["value"] = config[key]
        if key in pending:
            entry["pending"] = pending[key]
        if key in deletes:
            entry["delete"] = 1
        out.append(entry)
    return out
