"""Small helpers over the kubernetes provider's ``Api`` used by every capmox resource."""

from __future__ import annotations

import base64
from typing import Any

from cozyplan_kubernetes.api import Api
from cozyplan_kubernetes.discovery import NotServed

Obj = dict[str, Any]


async def apply(api: Api, obj: Obj, timeout: float = 120.0) -> Obj:
    """Server-side apply, waiting (bounded) for the kind to be served."""
    kind = await api.kind_when_served(obj["apiVersion"], obj["kind"], timeout)
    return await api.apply(kind, obj, force=True)


async def get(
    api: Api, api_version: str, kind: str, name: str, namespace: str | None
) -> Obj | None:
    """The object, or None when it (or its kind) does not exist."""
    try:
        k = await api.kind(api_version, kind)
    except NotServed:
        api.discovery.invalidate()  # its CRD may come later: ask again next time
        return None
    return await api.get(k, name, namespace)


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


async def delete(api: Api, api_version: str, kind: str, name: str, namespace: str | None) -> None:
    try:
        k = await api.kind(api_version, kind)
    except NotServed:
        return
    await api.delete(k, name, namespace, "Background")


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
