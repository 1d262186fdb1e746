"""The ``capmox`` provider: Cluster API Proxmox and the Proxmox CSI plugin on a cluster.

Like ``cozystack`` it holds a ``KubernetesProvider`` and uses its connection, server-side apply
and discovery; its own settings are the kubernetes provider's plus ``proxmox_ca_file``. It
waits with ``cozystack``'s ``kube.poll`` and checks address pools with its ``netranges`` (capmox
runs on CozyStack's bundled Cluster API operator, so the two share a cluster).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, ClassVar

from pydantic import Field

from cozyplan.provider import (
    PermanentError,
    Provider,
    ProviderContext,
    Resource,
    SpecProblem,
    SpecView,
)
from cozyplan_cozystack import kube
from cozyplan_kubernetes.api import Api
from cozyplan_kubernetes.provider import KubernetesConfig, KubernetesProvider


class CapmoxProviderConfig(KubernetesConfig):
    proxmox_ca_file: str | None = Field(
        None,
        description="PEM of the CA that signed Proxmox VE's certificate (relative to the spec); "
        "written as root_ca for capmox (the proxmox provider's ca_file)",
    )


class CapmoxProvider(Provider[CapmoxProviderConfig]):
    name = "capmox"
    config_model = CapmoxProviderConfig
    resource_types: ClassVar[list[type[Resource[Any, Any]]]] = []

    def __init__(self, config: CapmoxProviderConfig, ctx: ProviderContext) -> None:
        super().__init__(config, ctx)
        self.kubernetes = KubernetesProvider(config, ctx)

    async def api(self) -> Api:
        return await self.kubernetes.api()

    async def close(self) -> None:
        await self.kubernetes.close()

    def read_file(self, path: str) -> str:
        p = Path(path).expanduser()
        if not p.is_absolute():
            p = self.ctx.base_dir / p
        try:
            return p.read_text()
        except OSError as exc:
            raise PermanentError(f"cannot read {p}: {exc.strerror}") from None

    def proxmox_ca(self) -> str | None:
        if not self.config.proxmox_ca_file:
            return None
        return self.read_file(self.config.proxmox_ca_file)

    async def wait(
        self,
        check: Callable[[], Awaitable[str | None]],
        *,
        timeout: float,
        what: str,
        progress: Callable[[str], None],
        interval: float = 5.0,
    ) -> None:
        """Call ``check`` until it returns None (scaled interval and bound); PermanentError
        with its last answer at the bound. A progress line whenever the answer changes."""
        await kube.poll(
            check,
            timeout=timeout,
            interval=interval,
            what=what,
            progress=progress,
            time_scale=self.ctx.time_scale,
        )

    @classmethod
    def validate_spec(cls, spec: SpecView) -> list[SpecProblem]:
        from cozyplan_capmox.validate import validate_spec

        return validate_spec(spec)
