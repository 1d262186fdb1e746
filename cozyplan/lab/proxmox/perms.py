"""ACL evaluation as pve-access-control does it (``AccessControl::roles``,
``RPCEnvironment::permissions``).

* ``root@pam`` may do anything; any other user has the union of the privileges of the roles
  that apply on a path, where an ACL entry on a deeper path replaces what was inherited
  (entries apply on their own path, and below it only with ``propagate``).
* A token without privilege separation has its user's privileges; with ``privsep`` it has the
  **intersection** of the user's and its own: granting only ``tokens=`` gives nothing.
* A failed check is ``403 Permission check failed (<path>, <privilege>)``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from cozyplan.lab.proxmox.errors import ApiError
from cozyplan.lab.proxmox.sizes import DISK_KEY_RE, parse_props
from cozyplan.lab.proxmox.store import Store
from cozyplan.upstream.pve_roles import ROLES

ROOT = "root@pam"


def _roles_on(acl: list[dict[str, Any]], kind: str, ugid: str, path: str) -> set[str]:
    """``AccessControl::roles`` for one subject: the deepest applicable entries win."""
    parts = [p for p in path.split("/") if p]
    prefixes = ["/"] + ["/" + "/".join(parts[: i + 1]) for i in range(len(parts))]
    roles: set[str] = set()
    for depth, prefix in enumerate(prefixes):
        final = depth == len(prefixes) - 1
        found = {
            str(e["roleid"])
            for e in acl
            if e["path"] == prefix
            and e["type"] == kind
            and e["ugid"] == ugid
            and (final or int(e.get("propagate", 1)))
        }
        if found:
            roles = found
    return roles


def _privs(roles: Iterable[str]) -> set[str]:
    out: set[str] = set()
    for role in roles:
        out |= ROLES.get(role, frozenset())
    return out


def permissions(store: Store, subject: str, path: str) -> set[str]:
    """The privileges ``subject`` (a user or ``user@realm!token``) has on ``path``."""
    userid, _, tokenid = subject.partition("!")
    if userid == ROOT and not tokenid:
        return set(ROLES["Administrator"])
    acl = store.acl()
    if tokenid:
        token = store.users().get(userid, {}).get("tokens", {}).get(tokenid)
        if token is None:
            return set()
        user_privs = permissions(store, userid, path)
        if not int(token.get("privsep", 1)):
            return user_privs
        return user_privs & _privs(_roles_on(acl, "token", subject, path))
    return _privs(_roles_on(acl, "user", userid, path))


def check(store: Store, subject: str, path: str, *privs: str) -> None:
    """All of ``privs`` on ``path``, or PVE's ``raise_perm_exc``."""
    have = permissions(store, subject, path)
    for priv in privs:
        if priv not in have:
            raise ApiError(403, f"Permission check failed ({path}, {priv})")


def check_any(store: Store, subject: str, path: str, *privs: str) -> None:
    if not permissions(store, subject, path) & set(privs):
        raise ApiError(403, f"Permission check failed ({path}, {'|'.join(privs)})")


def allowed(store: Store, subject: str, path: str, *privs: str) -> bool:
    return set(privs) <= permissions(store, subject, path)


def check_bridges(store: Store, subject: str, config: dict[str, Any]) -> None:
    """qemu-server ``check_bridge_access``: ``SDN.Use`` on every bridge (and VLAN) used."""
    for key in sorted(config):
        if not key.startswith("net") or not key[3:].isdigit():
            continue
        _, props = parse_props(str(config[key]), "model")
        bridge = props.get("bridge")
        if not bridge:
            continue
        tag = props.get("tag")
        path = f"/sdn/zones/localnetwork/{bridge}" + (f"/{tag}" if tag else "")
        check(store, subject, path, "SDN.Use")


_CPU = {"cores", "cpu", "cpulimit", "cpuunits", "numa", "sockets", "vcpus"}
_MEMORY = {"memory", "balloon", "shares"}
_HWTYPE = {"acpi", "hotplug", "kvm", "machine", "scsihw", "smbios1", "tablet", "vga", "watchdog"}
_GENERAL = {
    "agent",
    "autostart",
    "bios",
    "description",
    "keyboard",
    "localtime",
    "name",
    "onboot",
    "ostype",
    "protection",
    "reboot",
    "startup",
    "tags",
    "template",
    "vmgenid",
    "meta",
}
_NOT_CONFIG = {"delete", "digest", "node", "vmid", "skiplock", "revert", "background_delay"}
_NOT_CONFIG |= {"start", "pool", "storage", "unique", "archive", "force"}
_DISK_OPTS = {"boot", "bootdisk", "vmstatestorage"}
_CLOUDINIT = {"cicustom", "cipassword", "citype", "ciuser", "ciupgrade", "nameserver"}
_CLOUDINIT |= {"searchdomain", "sshkeys"}


def check_config_write(store: Store, subject: str, vmid: int, params: dict[str, str]) -> None:
    """qemu-server's ``check_vm_modify_config_perm`` + storage and bridge access checks."""
    path = f"/vms/{vmid}"
    deleted = [k for k in str(params.get("delete", "")).replace(";", ",").split(",") if k]
    for key in sorted({*params, *deleted}):
        if key in _NOT_CONFIG:
            continue
        if DISK_KEY_RE.match(key) or key.startswith("unused"):
            check(store, subject, path, "VM.Config.Disk")
            first, _ = parse_props(str(params.get(key, "")), "file")
            storage = first.partition(":")[0]
            if storage and storage in store.data["storages"]:
                check(store, subject, f"/storage/{storage}", "Datastore.AllocateSpace")
        elif key.startswith("serial"):
            check(store, subject, path, "VM.Config.HWType")
        elif key in _CPU:
            check(store, subject, path, "VM.Config.CPU")
        elif key in _MEMORY:
            check(store, subject, path, "VM.Config.Memory")
        elif key in _HWTYPE:
            check(store, subject, path, "VM.Config.HWType")
        elif key in _GENERAL:
            check(store, subject, path, "VM.Config.Options")
        elif key in _DISK_OPTS:
            check(store, subject, path, "VM.Config.Disk")
        elif key.startswith("net"):
            check(store, subject, path, "VM.Config.Network")
        elif key in _CLOUDINIT or key.startswith("ipconfig"):
            check_any(store, subject, path, "VM.Config.Cloudinit", "VM.Config.Network")
        elif subject != ROOT:  # args, lock...: not even a root@pam token
            raise ApiError(500, f"only root can set '{key}' config")
    check_bridges(store, subject, {k: v for k, v in params.items() if k.startswith("net")})


def check_perm_modify(store: Store, subject: str, path: str) -> None:
    """``RPCEnvironment::check_perm_modify``: ``Permissions.Modify`` on the path, or the
    allocation privilege of what it names (storage, VM, pool)."""
    privs = ["Permissions.Modify"]
    if path.startswith("/storage/"):
        privs.append("Datastore.Allocate")
    elif path.startswith("/vms/"):
        privs.append("VM.Allocate")
    elif path.startswith("/pool/"):
        privs.append("Pool.Allocate")
    check_any(store, subject, path, *privs)
