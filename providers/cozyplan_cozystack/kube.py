"""Small helpers over the kubernetes provider's ``Api`` used by every cozystack resource."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from cozyplan.provider import PermanentError
from cozyplan_kubernetes.api import Api
from cozyplan_kubernetes.discovery import NotServed
from cozyplan_kubernetes.waits import condition_check

HELMRELEASE = ("helm.toolkit.fluxcd.io/v2", "HelmRelease")


async def apply(api: Api, obj: dict[str, Any], timeout: float = 120.0) -> dict[str, Any]:
    kind = await api.kind_when_served(obj["apiVersion"], obj["kind"], timeout)
    return await api.apply(kind, obj, force=True)


async def get(
    api: Api, api_version: str, kind_name: str, name: str, namespace: str | None
) -> dict[str, Any] | None:
    """The object, or None when it or its kind does not exist (yet: a chart brings the CRD)."""
    try:
        kind = await api.kind(api_version, kind_name)
    except NotServed:
        api.discovery.invalidate()
        return None
    return await api.get(kind, name, namespace)


async def get_all(
    api: Api, wanted: Sequence[tuple[str, str, str, str | None]]
) -> list[dict[str, Any] | None]:
    """``get`` of each (apiVersion, kind, name, namespace), all at once (independent GETs)."""
    return list(await asyncio.gather(*(get(api, *args) for args in wanted)))


def condition(obj: dict[str, Any] | None, text: str) -> str | None:
    """None when ``obj`` has condition ``text`` (``Ready=True``), else what is missing."""
    if obj is None:
        return "not created yet"
    return condition_check(text)(obj)


async def poll(
    check: Callable[[], Awaitable[str | None]],
    *,
    timeout: float,
    interval: float,
    what: str,
    progress: Callable[[str], None],
    summary: Callable[[str], str] = lambda reason: reason,
    time_scale: float = 1.0,
) -> None:
    """Call ``check`` until it returns None; PermanentError with its last answer at the bound.

    A progress line is shown when ``summary(reason)`` changes (not on every new detail).
    ``time_scale`` scales the bound and the interval (a lab rehearsal runs faster than life);
    the error names the bound as the spec gave it.
    """
    deadline = time.monotonic() + timeout * time_scale
    shown: str | None = None
    while True:
        reason = await check()
        if reason is None:
            return
        if summary(reason) != shown:
            progress(reason)
            shown = summary(reason)
        if time.monotonic() >= deadline:
            raise PermanentError(f"{what} after {timeout:g}s:\n{reason}")
        await asyncio.sleep(interval * time_scale)


async def delete(
    api: Api, api_version: str, kind_name: str, name: str, namespace: str | None
) -> None:
    """Ask for deletion; a missing object or kind is already gone."""
    try:
        kind = await api.kind(api_version, kind_name)
    except NotServed:
        return
    await api.delete(kind, name, namespace, "Background")
