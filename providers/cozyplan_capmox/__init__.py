"""cozyplan provider ``capmox``: Cluster API Proxmox and the Proxmox CSI plugin on a cluster.

Resource types: ``capmox_credentials``, ``capmox_provider``, ``proxmox_cluster``,
``proxmox_csi``. See docs/providers/capmox.md.
"""

from __future__ import annotations

from cozyplan_capmox.provider import CapmoxProvider, CapmoxProviderConfig
from cozyplan_capmox.resources import RESOURCE_TYPES

CapmoxProvider.resource_types = RESOURCE_TYPES

__all__ = ["CapmoxProvider", "CapmoxProviderConfig"]
