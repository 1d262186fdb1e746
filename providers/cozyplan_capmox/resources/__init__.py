"""The capmox resource types, one module each."""

from __future__ import annotations

from typing import Any

from cozyplan.provider import Resource
from cozyplan_capmox.resources.capmox import CapmoxInstall
from cozyplan_capmox.resources.cluster import ProxmoxClusterResource
from cozyplan_capmox.resources.credentials import CapmoxCredentials
from cozyplan_capmox.resources.csi import ProxmoxCsi

RESOURCE_TYPES: list[type[Resource[Any, Any]]] = [
    CapmoxCredentials,
    CapmoxInstall,
    ProxmoxClusterResource,
    ProxmoxCsi,
]

__all__ = [
    "RESOURCE_TYPES",
    "CapmoxCredentials",
    "CapmoxInstall",
    "ProxmoxClusterResource",
    "ProxmoxCsi",
]
