"""One ``GET /cluster/resources?type=vm`` per run, shared by every read until a write."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

Fetch = Callable[[], Awaitable[list[dict[str, Any]]]]


class Inventory:
    def __init__(self, fetch: Fetch) -> None:
        self._fetch = fetch
        self._lock = asyncio.Lock()
        self._vms: dict[int, dict[str, Any]] | None = None
        self._generation = 0

    def invalidate(self) -> None:
        self._generation += 1
        self._vms = None

    async def vms(self) -> dict[int, dict[str, Any]]:
        cached = self._vms
        if cached is not None:
            return cached
        async with self._lock:
            if self._vms is not None:
                return self._vms
            generation = self._generation
            entries = await self._fetch()
            vms = {int(e["vmid"]): e for e in entries if e.get("type") in ("qemu", None)}
            if generation == self._generation:
                self._vms = vms
            return vms

    async def get(self, vmid: int) -> dict[str, Any] | None:
        return (await self.vms()).get(vmid)
