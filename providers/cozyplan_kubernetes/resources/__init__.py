"""The kubernetes provider's resource types."""

from __future__ import annotations

from typing import Any

from cozyplan.provider import Resource
from cozyplan_kubernetes.resources.check import K8sCheck
from cozyplan_kubernetes.resources.manifest import K8sManifest
from cozyplan_kubernetes.resources.secret import K8sSecret

RESOURCE_TYPES: list[type[Resource[Any, Any]]] = [K8sManifest, K8sSecret, K8sCheck]

__all__ = ["RESOURCE_TYPES", "K8sCheck", "K8sManifest", "K8sSecret"]
