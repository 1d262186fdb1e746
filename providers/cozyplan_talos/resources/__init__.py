"""The talos resource types, one module each."""

from __future__ import annotations

from typing import Any

from cozyplan.provider import Resource
from cozyplan_talos.resources.bootstrap import TalosBootstrap
from cozyplan_talos.resources.image_schematic import TalosImageSchematic
from cozyplan_talos.resources.kubeconfig import TalosKubeconfig
from cozyplan_talos.resources.machine_config import TalosMachineConfig
from cozyplan_talos.resources.node import TalosNode
from cozyplan_talos.resources.secrets import TalosSecrets

RESOURCE_TYPES: list[type[Resource[Any, Any]]] = [
    TalosSecrets,
    TalosImageSchematic,
    TalosMachineConfig,
    TalosNode,
    TalosBootstrap,
    TalosKubeconfig,
]

__all__ = [
    "RESOURCE_TYPES",
    "TalosBootstrap",
    "TalosImageSchematic",
    "TalosKubeconfig",
    "TalosMachineConfig",
    "TalosNode",
    "TalosSecrets",
]
