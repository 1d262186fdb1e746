"""Applying config parameters to a simulated VM the way qemu-server does."""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

from cozyplan.lab.proxmox.errors import ApiError, param_error
from cozyplan.lab.proxmox.sizes import (
    DISK_KEY_RE,
    cloudinit_slot,
    format_size,
    parse_props,
    parse_size,
)
from cozyplan.lab.proxmox.store import Store

_ALLOC_RE = re.compile(r"^([A-Za-z][\w.-]*):(\d+(?:\.\d+)?)$")
_NET_KEY_RE = re.compile(r"^net\d+$")
_INT_KEYS = {"cores", "sockets", "memory", "balloon", "vcpus", "cpuunits", "template", "onboot"}
_NET_MODELS = {"virtio", "e1000", "e1000e", "rtl8139", "vmxnet3"}
_DNS_RE = re.compile(
    r"^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$"
)
_ALLOWED = re.compile(
    r"^(name|cores|sockets|memory|balloon|vcpus|cpu|cpuunits|scsihw|agent|ostype|boot|tags|"
    r"template|onboot|description|serial\d|vga|bios|machine|ipconfig\d|nameserver|searchdomain|"
    r"ciuser|cipassword|sshkeys|citype|kvm|numa|hotplug|efidisk0|tpmstate0|smbios1|vmgenid|"
    r"meta|net\d+|(scsi|virtio|sata|ide)\d+|unused\d+)$"
)


def digest(config: dict[str, Any]) -> str:
    return hashlib.sha1(json.dumps(config, sort_keys=True).encode()).hexdigest()


def mac_for(vmid: int, index: int) -> str:
    h = hashlib.sha256(f"{vmid}/{index}".encode()).digest()
    return "BC:24:11:" + ":".join(f"{b:02X}" for b in h[:3])


def disk_keys(config: dict[str, Any]) -> list[str]:
    return sorted(k for k in config if DISK_KEY_RE.match(k))


def disk_size(store: Store, value: str) -> int:
    volid, props = parse_props(value, "file")
    if "size" in props:
        return parse_size(props["size"])
    vol = store.volumes().get(volid)
    return int(vol["size"]) if vol else 0


def boot_disk_size(store: Store, config: dict[str, Any]) -> int:
    keys = disk_keys(config)
    for key in ("scsi0", "virtio0", "sata0", "ide0", *keys):
        if key in config and "media=cdrom" not in str(config[key]):
            return disk_size(store, str(config[key]))
    return 0


def _set_disk(
    store: Store, vmid: int, vm: dict[str, Any], key: str, value: str, old: str | None
) -> str:
    first, props = parse_props(value, "file")
    storage, _, volname = first.partition(":")
    if volname == "cloudinit":
        attached = cloudinit_slot({k: v for k, v in vm["config"].items() if k != key})
        if attached is not None:
            raise ApiError(500, f"{key} - cloud-init drive is already attached at '{attached}'")
        props.pop("format", None)
        props["media"] = "cdrom"
        volid = store.alloc_cloudinit(storage, vmid)
        return ",".join([volid, *(f"{k}={v}" for k, v in props.items())])
    if first in ("none", "cdrom") or props.get("media") == "cdrom":
        return value
    import_from = props.pop("import-from", None)
    m = _ALLOC_RE.match(first)
    if m is not None:
        storage = m.group(1)
        if import_from is not None:
            src = store.volumes().get(import_from)
            if src is None:
                raise ApiError(
                    500,
                    f"unable to parse volume ID '{import_from}'"
                    if ":" not in import_from
                    else f"volume '{import_from}' does not exist",
                )
            if src["content"] not in ("import", "images", "iso"):
                raise ApiError(500, f"'{import_from}' has wrong type to import from")
            size = int(src["size"])
            vm["image"] = import_from.split("/")[-1]
        else:
            size = int(float(m.group(2)) * 1024**3)
        volid = store.alloc_disk(storage, vmid, size)
        props["size"] = format_size(size)
        return ",".join([volid, *(f"{k}={v}" for k, v in props.items())])
    if import_from is not None:
        raise param_error(**{key: "'import-from' requires a target storage (STORAGE:0)"})
    if first.startswith("/"):
        raise ApiError(403, "Only root can pass arbitrary filesystem paths.")
    vol = store.volumes().get(first)
    if vol is None:
        raise ApiError(500, f"volume '{first}' does not exist")
    props["size"] = format_size(int(vol["size"]))
    return ",".join([first, *(f"{k}={v}" for k, v in props.items())])


def _set_net(vmid: int, key: str, value: str) -> str:
    first, props = parse_props(value, "model")
    model = first.split("=")[0] if first else ""
    if not model:
        for m in _NET_MODELS:
            if m in props:
                model, first = m, f"{m}={props.pop(m)}"
                break
    if model not in _NET_MODELS:
        raise param_error(
            **{
                key: f"invalid format - format error\n{key}.model: value '{model}' "
                "does not have a value in the enumeration "
                "'e1000, e1000e, rtl8139, virtio, vmxnet3'"
            }
        )
    mac = first.partition("=")[2] or mac_for(vmid, int(key[3:]))
    return ",".join([f"{model}={mac.upper()}", *(f"{k}={v}" for k, v in props.items())])


def apply_config(store: Store, vmid: int, vm: dict[str, Any], params: dict[str, str]) -> None:
    """Set and delete config keys; allocate/import new disks. Raises ApiError on bad input."""
    config: dict[str, Any] = vm["config"]
    errors: dict[str, str] = {}
    for key in params:
        if key in (
            "delete",
            "digest",
            "node",
            "vmid",
            "skiplock",
            "revert",
            "background_delay",
            "start",
            "force",
            "pool",
            "storage",
            "unique",
            "archive",
        ):
            continue
        if not _ALLOWED.match(key):
            errors[key] = (
                "property is not defined in schema and the schema does not allow "
                "additional properties"
            )
    if "digest" in params and params["digest"] and params["digest"] != digest(config):
        raise ApiError(
            500, "detected modified configuration - file changed by other user? Try again."
        )
    for key, value in params.items():
        if key in _INT_KEYS and not re.fullmatch(r"\d+", value):
            errors[key] = f"type check ('integer') failed - got '{value}'"
        if key == "name" and not _DNS_RE.match(value):
            errors[key] = "invalid format - value does not look like a valid DNS name"
    if errors:
        raise param_error(**errors)
    for key in re.split(r"[,;\s]+", params.get("delete", "")):
        if not key or key not in config:
            continue
        if DISK_KEY_RE.match(key):
            # ``vmconfig_register_unused_drive``: only a volume the VM owns becomes unusedN
            # (a detached volume of another owner, e.g. proxmox-csi's vm-9999-*, is just gone)
            volid, _ = parse_props(str(config[key]), "file")
            owner = (store.volumes().get(volid) or {}).get("vmid")
            if owner is None or int(owner) == vmid:
                n = 0
                while f"unused{n}" in config:
                    n += 1
                config[f"unused{n}"] = volid
        config.pop(key)
    for key, value in params.items():
        if not _ALLOWED.match(key):
            continue
        if DISK_KEY_RE.match(key):
            config[key] = _set_disk(store, vmid, vm, key, value, config.get(key))
        elif _NET_KEY_RE.match(key):
            config[key] = _set_net(vmid, key, value)
        elif key in _INT_KEYS:
            config[key] = int(value)
        elif key == "tags":
            tags = [t for t in re.split(r"[;,\s]+", value) if t]
            config[key] = ";".join(dict.fromkeys(t.lower() for t in tags))
        else:
            config[key] = value


def public_config(config: dict[str, Any]) -> dict[str, Any]:
    out = dict(config)
    out["digest"] = digest(config)
    return out


def summary(store: Store, vmid: int, vm: dict[str, Any]) -> dict[str, Any]:
    """One ``/cluster/resources?type=vm`` entry."""
    config = vm["config"]
    cores = int(config.get("cores", 1)) * int(config.get("sockets", 1))
    entry: dict[str, Any] = {
        "id": f"qemu/{vmid}",
        "type": "qemu",
        "node": vm["node"],
        "vmid": vmid,
        "name": config.get("name", f"VM{vmid}"),
        "status": vm["status"],
        "template": int(config.get("template", 0)),
        "maxcpu": int(config.get("vcpus", cores)),
        "maxmem": int(config.get("memory", 512)) * 1024**2,
        "maxdisk": boot_disk_size(store, config),
        "uptime": int(store.uptime(vm)),
        "cpu": 0,
        "mem": 0,
        "disk": 0,
        "netin": 0,
        "netout": 0,
        "diskread": 0,
        "diskwrite": 0,
    }
    if config.get("tags"):
        entry["tags"] = config["tags"]
    if config.get("lock"):
        entry["lock"] = config["lock"]
    return entry
