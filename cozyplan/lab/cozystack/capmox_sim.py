"""``capmox`` in the lab: the settings the ``capmox`` provider needs against it, and status.

The controllers themselves (Cluster API operator and core, capmox, proxmox-csi) run in each
cluster's CozyStack loop (``capi.py``, ``capmox.py``, ``csi.py``), since CozyStack's
``capi-operator`` release is what installs capmox. This simulator only tells the provider which
CA signs the lab Proxmox's certificate (written to the credentials Secret's ``root_ca``, as a
real spec gives the Proxmox CA), and reports what the controllers did.
"""

from __future__ import annotations

from typing import Any, ClassVar

from cozyplan.lab.framework import Simulator


class CapmoxSimulator(Simulator):
    name: ClassVar[str] = "capmox"

    async def start(self) -> None:
        return None

    def provider_settings(self) -> dict[str, Any]:
        return {"proxmox_ca_file": str(self.world.ca.ca_file.resolve())}

    def status(self) -> dict[str, Any]:
        clusters = self.world.data("cozystack").get("clusters") or {}
        return {
            cid: {"csi_volumes": sorted((state.get("csi_volumes") or {}).keys())}
            for cid, state in clusters.items()
        }
