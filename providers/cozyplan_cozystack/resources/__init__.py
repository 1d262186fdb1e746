"""The cozystack resource types, one module each."""

from __future__ import annotations

from typing import Any

from cozyplan.provider import Resource
from cozyplan_cozystack.resources.app import CozystackApp, CozystackTenant
from cozyplan_cozystack.resources.networking import CozystackNetworking
from cozyplan_cozystack.resources.platform import CozystackPlatform
from cozyplan_cozystack.resources.storage import CozystackStorage

RESOURCE_TYPES: list[type[Resource[Any, Any]]] = [
    CozystackPlatform,
    CozystackStorage,
    CozystackNetworking,
    CozystackTenant,
    CozystackApp,
]

__all__ = [
    "RESOURCE_TYPES",
    "CozystackApp",
    "CozystackNetworking",
    "CozystackPlatform",
    "CozystackStorage",
    "CozystackTenant",
]
