"""What the capmox and proxmox-csi controllers need from their Proxmox token, and what a
declared ACL lacks (plan warnings).

The requirements are the calls the controllers make (capmox: clone the template, configure,
start and delete the machines, upload its cloud-init ISO; proxmox-csi: allocate volumes and
attach them, its ``docs/install.md`` role) with the permission checks qemu-server and
pve-storage apply to them. Roles are Proxmox VE's built-in ones (``cozyplan.upstream``).
An ACL here is what ``proxmox_api_token`` grants, to the user *and* the token: under privilege
separation Proxmox intersects the two, so a token-only grant gives nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from cozyplan.upstream.pve_roles import privileges
from cozyplan_capmox.models import AclEntry


@dataclass(frozen=True)
class Need:
    path: str
    privilege: str
    why: str


def capmox_needs(
    template_id: int, storage: str | None, bridge: str, node: str, iso_storage: str = "local"
) -> list[Need]:
    vms = "/vms"
    out = [
        Need(f"/vms/{template_id}", "VM.Clone", "clone the template"),
        Need(vms, "VM.Allocate", "create the machines' VMs"),
        Need(f"/sdn/zones/localnetwork/{bridge}", "SDN.Use", f"attach clones to {bridge}"),
        Need(f"/nodes/{node}", "Sys.Audit", "list the allowed nodes"),
        Need(f"/storage/{iso_storage}", "Datastore.AllocateTemplate", "upload the bootstrap ISO"),
    ]
    if storage:
        out.append(Need(f"/storage/{storage}", "Datastore.AllocateSpace", "store the clones"))
    for priv in (
        "VM.Config.Disk",
        "VM.Config.CPU",
        "VM.Config.Memory",
        "VM.Config.Network",
        "VM.Config.Options",
        "VM.PowerMgmt",
        "VM.Audit",
    ):
        out.append(Need(vms, priv, "configure, start and watch the machines"))
    return out


def csi_needs(storages: Iterable[str]) -> list[Need]:
    out = [
        Need("/vms", "VM.Audit", "find the VM of a node"),
        Need("/vms", "VM.Config.Disk", "attach volumes"),
    ]
    for storage in sorted(set(storages)):
        for priv in ("Datastore.Allocate", "Datastore.AllocateSpace", "Datastore.Audit"):
            out.append(Need(f"/storage/{storage}", priv, "allocate and delete volumes"))
    return out


def granted(acl: Sequence[AclEntry], path: str) -> frozenset[str]:
    """The privileges ``acl`` gives on ``path``: the deepest applicable entries win
    (``AccessControl::roles``), an entry applies below its path only with ``propagate``."""
    parts = [p for p in path.split("/") if p]
    prefixes = ["/"] + ["/" + "/".join(parts[: i + 1]) for i in range(len(parts))]
    roles: set[str] = set()
    for depth, prefix in enumerate(prefixes):
        final = depth == len(prefixes) - 1
        found = {
            role
            for e in acl
            if (e.path.rstrip("/") or "/") == prefix and (final or e.propagate)
            for role in e.roles
        }
        if found:
            roles = found
    return privileges(roles)


def missing(acl: Sequence[AclEntry], needs: Iterable[Need]) -> list[Need]:
    return [n for n in needs if n.privilege not in granted(acl, n.path)]


def warnings(controller: str, acl: Sequence[AclEntry], needs: Iterable[Need]) -> list[str]:
    """One line per missing privilege, with Proxmox VE's own refusal text."""
    out = []
    for n in missing(acl, needs):
        out.append(
            f"the {controller} token cannot {n.why}: it lacks {n.privilege} on {n.path}, and "
            f"Proxmox VE will refuse with 'Permission check failed ({n.path}, {n.privilege})'"
        )
    return out
