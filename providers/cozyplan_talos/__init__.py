"""cozyplan provider ``talos``: the Talos machine API (secrets, configs, nodes, bootstrap).

Resource types: ``talos_secrets``, ``talos_image_schematic``, ``talos_machine_config``,
``talos_node``, ``talos_bootstrap``, ``talos_kubeconfig``. See docs/providers/talos.md.
"""

from __future__ import annotations

from cozyplan_talos.provider import TalosConfig, TalosProvider
from cozyplan_talos.resources import RESOURCE_TYPES

TalosProvider.resource_types = RESOURCE_TYPES

__all__ = ["TalosConfig", "TalosProvider"]
