"""cozyplan provider ``cozystack``: CozyStack's platform, storage, networking, tenants and apps.

Resource types: ``cozystack_platform``, ``cozystack_networking``, ``cozystack_tenant``,
``cozystack_app``. See docs/providers/cozystack.md.
"""

from __future__ import annotations

from cozyplan_cozystack.provider import CozystackProvider, CozystackProviderConfig
from cozyplan_cozystack.resources import RESOURCE_TYPES

CozystackProvider.resource_types = RESOURCE_TYPES

__all__ = ["CozystackProvider", "CozystackProviderConfig"]
