"""``HostProvider``: hosts reached over SSH, one shared connection per host."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any, ClassVar

from cozyplan.provider import PermanentError, Provider, ProviderContext, Resource
from cozyplan_host.config import HostProviderConfig, resolve_host
from cozyplan_host.ssh import HostConnection


class HostProvider(Provider[HostProviderConfig]):
    name = "host"
    lazy_modules = ("asyncssh",)
    config_model = HostProviderConfig
    resource_types: ClassVar[Sequence[type[Resource[Any, Any]]]] = ()  # filled in __init__.py

    def __init__(self, config: HostProviderConfig, ctx: ProviderContext) -> None:
        super().__init__(config, ctx)
        self._connections: dict[str, HostConnection] = {}

    def connection(self, name: str) -> HostConnection:
        """The shared connection to the host named ``name`` in the provider config."""
        conn = self._connections.get(name)
        if conn is None:
            if name not in self.config.hosts:
                known = ", ".join(sorted(self.config.hosts)) or "none"
                raise PermanentError(
                    f"no host named {name!r} in the host provider's config (known: {known})"
                )
            conn = HostConnection(resolve_host(self.config, name, self.ctx.base_dir), self.ctx)
            self._connections[name] = conn
        return conn

    async def close(self) -> None:
        await asyncio.gather(
            *(c.close() for c in self._connections.values()), return_exceptions=True
        )
        self._connections.clear()
