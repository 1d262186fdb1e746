"""The simulated cluster's services shared by all API routes."""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

from cozyplan.lab.framework import LabWorld
from cozyplan.lab.proxmox.errors import lock_timeout
from cozyplan.lab.proxmox.faults import Faults
from cozyplan.lab.proxmox.guest import event_payload
from cozyplan.lab.proxmox.locks import LockTable
from cozyplan.lab.proxmox.store import Store
from cozyplan.lab.proxmox.tasks import TaskEngine


class Pve:
    """Store + task engine + locks + faults + request counters of one simulated cluster."""

    def __init__(self, world: LabWorld) -> None:
        self.world = world
        self.store = Store(world)
        self.faults = Faults(world)
        self.tasks = TaskEngine(self.store.next_pid)
        self.locks = LockTable()
        self.requests: Counter[str] = Counter()

    @contextlib.asynccontextmanager
    async def vm_lock(self, vmid: int, *, shared: bool = False) -> AsyncIterator[None]:
        """The config lock of ``vmid``, waiting up to the (scaled) lock timeout."""
        if not shared and self.faults.roll("lock"):
            await asyncio.sleep(self.faults.latency("request"))
            raise lock_timeout(vmid)
        async with self.locks.hold(vmid, self.faults.latency("lock_timeout"), shared=shared):
            yield

    async def work(self, op: str) -> None:
        """Spend the (scaled) time ``op`` takes."""
        await asyncio.sleep(self.faults.latency(op))

    async def publish(self, event: str, node: str, vmid: int, vm: dict[str, Any]) -> None:
        await self.world.publish(event, event_payload(node, vmid, vm, event == "vm.started"))
