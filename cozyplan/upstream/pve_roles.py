"""Proxmox VE's built-in roles and their privileges (pve-access-control ``AccessControl.pm``
``create_roles``): shared by the lab's ACL evaluation and the providers' privilege warnings."""

from __future__ import annotations

from collections.abc import Iterable

# privilege groups of AccessControl.pm: category -> (root, admin, user, audit)
_GROUPS: dict[str, tuple[list[str], list[str], list[str], list[str]]] = {
    "VM": (
        [],
        [
            "VM.Config.Disk",
            "VM.Config.CPU",
            "VM.Config.Memory",
            "VM.Config.Network",
            "VM.Config.HWType",
            "VM.Config.Options",
            "VM.Allocate",
            "VM.Clone",
            "VM.GuestAgent.Unrestricted",
            "VM.Migrate",
            "VM.Replicate",
            "VM.Snapshot",
            "VM.Snapshot.Rollback",
        ],
        [
            "VM.Config.CDROM",
            "VM.Config.Cloudinit",
            "VM.Console",
            "VM.Backup",
            "VM.GuestAgent.FileRead",
            "VM.GuestAgent.FileSystemMgmt",
            "VM.GuestAgent.FileWrite",
            "VM.PowerMgmt",
        ],
        ["VM.Audit", "VM.GuestAgent.Audit"],
    ),
    "Sys": (
        ["Sys.PowerMgmt", "Sys.Modify", "Sys.Incoming", "Sys.AccessNetwork"],
        ["Sys.Console", "Sys.Syslog"],
        [],
        ["Sys.Audit"],
    ),
    "Datastore": (
        [],
        ["Datastore.Allocate", "Datastore.AllocateTemplate"],
        ["Datastore.AllocateSpace"],
        ["Datastore.Audit"],
    ),
    "SDN": ([], ["SDN.Allocate", "SDN.Audit"], ["SDN.Use"], ["SDN.Audit"]),
    "User": ([], ["User.Modify", "Group.Allocate", "Realm.AllocateUser"], [], []),
    "Pool": ([], ["Pool.Allocate"], ["Pool.Audit"], ["Pool.Audit"]),
    "Mapping": ([], ["Mapping.Modify"], ["Mapping.Use"], ["Mapping.Audit"]),
}
_GROUPS["User"][0].append("Realm.Allocate")


def _build_roles() -> dict[str, frozenset[str]]:
    """``create_roles``: PVE<Cat>Admin/User, PVEAdmin, PVEAuditor, PVETemplateUser..."""
    every = {"Permissions.Modify"}
    roles: dict[str, set[str]] = {"NoAccess": set(), "PVEAdmin": set(), "PVEAuditor": set()}
    for cat, (root, admin, user, audit) in _GROUPS.items():
        every.update(root, admin, user, audit)
        roles.setdefault(f"PVE{cat}Admin", set()).update(admin, user, audit)
        roles["PVEAdmin"].update(admin, user, audit)
        if user:
            roles.setdefault(f"PVE{cat}User", set()).update(user, audit)
        roles["PVEAuditor"].update(audit)
    roles["PVEAdmin"].discard("Mapping.Modify")
    roles["PVETemplateUser"] = {"VM.Clone", "VM.Audit"}
    roles["Administrator"] = every
    return {name: frozenset(privs) for name, privs in roles.items()}


ROLES: dict[str, frozenset[str]] = _build_roles()


def privileges(roles: Iterable[str]) -> frozenset[str]:
    """The union of the privileges of ``roles`` (unknown roles give none)."""
    out: set[str] = set()
    for role in roles:
        out |= ROLES.get(role, frozenset())
    return frozenset(out)
