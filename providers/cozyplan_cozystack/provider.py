"""The ``cozystack`` provider: the kubernetes provider's connection, CozyStack's resources.

It reuses ``cozyplan_kubernetes`` (kubeconfig loading, the client, server-side apply, watches)
rather than configuring a second kind of connection: its settings are the kubernetes
provider's (``kubeconfig_path`` or ``kubeconfig``, ``context``, ``timeout``...). Its resources
are a separate type family (``cozystack_*``) because they are CozyStack's API, not raw objects.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, ClassVar, TypeVar

from cozyplan.provider import Provider, ProviderContext, Resource, SpecProblem, SpecView
from cozyplan_cozystack import kube
from cozyplan_kubernetes.api import Api
from cozyplan_kubernetes.provider import KubernetesConfig, KubernetesProvider


class CozystackProviderConfig(KubernetesConfig):
    pass


KubeConfigT = TypeVar("KubeConfigT", bound=KubernetesConfig)


class KubernetesBackedProvider(Provider[KubeConfigT]):
    """A provider whose resources are objects on a cluster, reached through the kubernetes
    provider's connection (``cozystack``, ``capmox``): its config is a ``KubernetesConfig``."""

    def __init__(self, config: KubeConfigT, ctx: ProviderContext) -> None:
        super().__init__(config, ctx)
        #: the connection, made on first use, exactly as the kubernetes provider makes it
        self.kubernetes = KubernetesProvider(config, ctx)

    async def api(self) -> Api:
        return await self.kubernetes.api()

    async def close(self) -> None:
        await self.kubernetes.close()

    async def wait(
        self,
        check: Callable[[], Awaitable[str | None]],
        *,
        timeout: float,
        what: str,
        progress: Callable[[str], None],
        interval: float = 5.0,
        summary: Callable[[str], str] = lambda reason: reason,
    ) -> None:
        """``kube.poll`` with the wait and its interval scaled (the lab runs faster than life)."""
        await kube.poll(
            check,
            timeout=timeout,
            interval=interval,
            what=what,
            progress=progress,
            summary=summary,
            time_scale=self.ctx.time_scale,
        )


class CozystackProvider(KubernetesBackedProvider[CozystackProviderConfig]):
    name = "cozystack"
    lazy_modules = ("cozyplan_cozystack.validate",)
    config_model = CozystackProviderConfig
    resource_types: ClassVar[list[type[Resource[Any, Any]]]] = []

    @classmethod
    def validate_spec(cls, spec: SpecView) -> list[SpecProblem]:
        from cozyplan_cozystack.validate import validate_spec

        return validate_spec(spec)
