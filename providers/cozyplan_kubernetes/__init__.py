"""cozyplan provider ``kubernetes``: any conformant API server, through the official client.

Resource types: ``k8s_manifest`` (server-side apply of any object, waits), ``k8s_secret``,
``k8s_check``. See docs/providers/kubernetes.md.
"""

from __future__ import annotations

from cozyplan_kubernetes.provider import KubernetesConfig, KubernetesProvider
from cozyplan_kubernetes.resources import RESOURCE_TYPES

KubernetesProvider.resource_types = RESOURCE_TYPES

__all__ = ["KubernetesConfig", "KubernetesProvider"]
