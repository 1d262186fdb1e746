"""Per-VM config locks (``/var/lock/qemu-server/lock-<vmid>.conf``): shared or exclusive."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from cozyplan.lab.proxmox.errors import lock_timeout


class _VmLock:
    def __init__(self) -> None:
        self.exclusive = False
        self.shared = 0
        self.cond = asyncio.Condition()


class LockTable:
    """flock-like locks with a timeout; a timeout raises PVE's ``got timeout`` error."""

    def __init__(self) -> None:
        self._locks: dict[int, _VmLock] = {}

    def held(self, vmid: int) -> bool:
        lock = self._locks.get(vmid)
        return lock is not None and (lock.exclusive or lock.shared > 0)

    @contextlib.asynccontextmanager
    async def hold(self, vmid: int, timeout: float, *, shared: bool = False) -> AsyncIterator[None]:
        lock = self._locks.setdefault(vmid, _VmLock())

        def free() -> bool:
            return not lock.exclusive and (shared or lock.shared == 0)

        async with lock.cond:
            try:
                await asyncio.wait_for(lock.cond.wait_for(free), timeout)
            except TimeoutError:
                raise lock_timeout(vmid) from None
            if shared:
                lock.shared += 1
            else:
                lock.exclusive = True
        try:
            yield
        finally:
            async with lock.cond:
                if shared:
                    lock.shared -= 1
                else:
                    lock.exclusive = False
                lock.cond.notify_all()
