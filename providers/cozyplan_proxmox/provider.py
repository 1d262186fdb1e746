"""``ProxmoxProvider``: connection, per-run inventory cache, vmid allocator, clone limiter."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, ClassVar, TypeVar

from cozyplan.provider import Provider, ProviderContext, Resource, TemporaryError
from cozyplan_proxmox.client import PveClient
from cozyplan_proxmox.config import ProxmoxConfig
from cozyplan_proxmox.inventory import Inventory
from cozyplan_proxmox.placement import CloneLimiter, VmidAllocator

T = TypeVar("T")


class ProxmoxProvider(Provider[ProxmoxConfig]):
    name: ClassVar[str] = "proxmox"
    config_model: ClassVar[type[ProxmoxConfig]] = ProxmoxConfig
    resource_types: ClassVar[Sequence[type[Resource[Any, Any]]]] = ()  # filled in __init__.py

    def __init__(self, config: ProxmoxConfig, ctx: ProviderContext) -> None:
        super().__init__(config, ctx)
        self.inventory = Inventory(self._fetch_vms)
        self.client = PveClient(config, ctx, on_write=self.inventory.invalidate)
        self.vmids = VmidAllocator(self._next_id)
        self.clones = CloneLimiter(config.clone_concurrency)

    def config_warnings(self) -> list[str]:
        if self.config.verify_tls or self.config.ca_file:
            return []
        return [
            "verify_tls is false: the API's TLS certificate is not checked, so anyone on the "
            "path can read the API token; set ca_file to the cluster's CA (e.g. "
            "/etc/pve/pve-root-ca.pem) instead"
        ]

    async def _fetch_vms(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = await self.client.call("GET", "cluster/resources", type="vm")
        return found

    async def _next_id(self, wanted: int | None) -> int:
        raw = await self.client.call("GET", "cluster/nextid", vmid=wanted)
        return int(str(raw).strip().strip('"'))  # PVE answers a string; be tolerant

    async def retrying(self, op: Callable[[], Awaitable[T]]) -> T:
        """Run an idempotent step again after transient errors (engine retries on top)."""
        attempts = max(1, self.config.retries)
        for attempt in range(attempts):
            try:
                return await op()
            except TemporaryError as exc:
                if exc.exhausted or attempt == attempts - 1:
                    raise
                await self._sleep(self.client.backoff(attempt))
        raise AssertionError("unreachable")

    async def _sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)

    async def close(self) -> None:
        self.client.close()
