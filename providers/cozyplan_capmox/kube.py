"""Small helpers over the kubernetes provider's ``Api`` used by every capmox resource (``get``,
``apply``, ``delete`` are the cozystack provider's)."""

from __future__ import annotations

import base64
from typing import Any

from cozyplan_cozystack.kube import apply, delete, get, get_all
from cozyplan_kubernetes.api import Api
from cozyplan_kubernetes.discovery import NotServed

__all__ = ["apply", "condition", "decode", "delete", "get", "get_all", "is_true", "items"]

Obj = dict[str, Any]


async def items(
    api: Api, api_version: str, kind: str, namespace: str | None, selector: str | None = None
) -> list[Obj]:
    try:
        k = await api.kind(api_version, kind)
    except NotServed:
        api.discovery.invalidate()
        return []
    found, _ = await api.list(k, namespace, label_selector=selector)
    return found


def condition(obj: Obj | None, name: str) -> Obj | None:
    for cond in ((obj or {}).get("status") or {}).get("conditions") or []:
        if cond.get("type") == name:
            return dict(cond)
    return None


def is_true(obj: Obj | None, name: str) -> bool:
    cond = condition(obj, name)
    return cond is not None and cond.get("status") == "True"


def decode(secret: Obj | None) -> dict[str, str]:
    return {
        k: base64.b64decode(v).decode()
        for k, v in ((secret or {}).get("data") or {}).items()
        if isinstance(v, str)
    }
