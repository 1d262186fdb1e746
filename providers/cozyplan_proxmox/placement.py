"""vmid allocation (serialised, never handed out twice in a run) and the clone limiter."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from cozyplan_proxmox.errors import ApiPermanentError

NextId = Callable[[int | None], Awaitable[int]]


class VmidAllocator:
    def __init__(self, next_id: NextId) -> None:
        self._next_id = next_id
        self._lock = asyncio.Lock()
        self._by_owner: dict[str, int] = {}

    def reserved(self, owner: str) -> int | None:
        return self._by_owner.get(owner)

    def reserve(self, owner: str, vmid: int) -> None:
        self._by_owner[owner] = vmid

    async def allocate(self, owner: str) -> int:
        """A free vmid for ``owner`` (a resource address); the same one if asked again."""
        async with self._lock:
            if owner in self._by_owner:
                return self._by_owner[owner]
            taken = set(self._by_owner.values())
            candidate = await self._next_id(None)
            while candidate in taken:
                try:
                    candidate = await self._next_id(candidate + 1)
                except ApiPermanentError as exc:
                    if "already exists" not in exc.pve_message:
                        raise
                    candidate += 1
            self._by_owner[owner] = candidate
            return candidate


class CloneLimiter:
    """At most ``limit`` clones at once per (node, source vmid, target storage)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._slots: dict[tuple[str, int, str], asyncio.Semaphore] = {}

    def slot(self, node: str, source: int, storage: str) -> asyncio.Semaphore:
        key = (node, source, storage)
        if key not in self._slots:
            self._slots[key] = asyncio.Semaphore(self.limit)
        return self._slots[key]
