"""The provider class and its connection settings (resource types are attached in __init__).

The connection is made on first use, not when the provider is configured: a spec may create the
cluster (and write its kubeconfig) in the same run that then applies objects to it, and a plan
whose Kubernetes objects are all still to be created never needs the API server.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated, Any, ClassVar

from pydantic import Field, model_validator

from cozyplan import plainyaml
from cozyplan.provider import PermanentError, Provider, Resource, Sensitive, SpecModel
from cozyplan_kubernetes.api import Api
from cozyplan_kubernetes.client import KubeClient, load_configuration


class KubernetesConfig(SpecModel):
    kubeconfig_path: str | None = Field(
        None,
        description="kubeconfig file (relative to the spec), e.g. the one talos_kubeconfig writes",
    )
    kubeconfig: Annotated[str | None, Sensitive()] = Field(
        None, description="kubeconfig text (e.g. from a sensitive variable)"
    )
    context: str | None = Field(None, description="kubeconfig context (default: current)")
    namespace: str = Field("default", description="namespace of objects that name none")
    timeout: float = Field(30.0, gt=0, description="seconds per API call")
    field_manager: str = Field("cozyplan", description="server-side apply field manager")
    crd_wait: float = Field(
        120.0, gt=0, description="seconds to wait for a CRD applied in the same run to be served"
    )

    @model_validator(mode="after")
    def _one_source(self) -> KubernetesConfig:
        if self.kubeconfig_path and self.kubeconfig:
            raise ValueError("set kubeconfig_path or kubeconfig, not both")
        return self


class KubernetesProvider(Provider[KubernetesConfig]):
    name = "kubernetes"
    type_prefix = "k8s"
    config_model = KubernetesConfig
    resource_types: ClassVar[list[type[Resource[Any, Any]]]] = []

    def __init__(self, config: KubernetesConfig, ctx: Any) -> None:
        super().__init__(config, ctx)
        self._api: Api | None = None
        self._client: KubeClient | None = None
        self._lock = asyncio.Lock()

    def _kubeconfig(self) -> dict[str, Any]:
        cfg = self.config
        if cfg.kubeconfig:
            text, source = cfg.kubeconfig, "providers.kubernetes.kubeconfig"
        else:
            named = cfg.kubeconfig_path or "~/.kube/config"
            path = self.ctx.base_dir / Path(named).expanduser()
            # a lab run reads the copy the rehearsal wrote (talos_kubeconfig writes files under
            # the lab directory), else the file itself (one the user wrote for the lab)
            rehearsed = self.ctx.output_path(named)
            if rehearsed != path and rehearsed.exists():
                path = rehearsed
            source = str(path)
            try:
                text = path.read_text()
            except OSError as exc:
                raise PermanentError(f"kubeconfig {source}: {exc.strerror or exc}") from None
        try:
            # libyaml's YAML 1.1, as kubectl reads a kubeconfig (and ~10x faster than ruamel's
            # pure-Python parser)
            doc = plainyaml.load(text)
        except plainyaml.YAMLError:
            raise PermanentError(f"kubeconfig {source} is not valid YAML") from None
        if not isinstance(doc, dict):
            raise PermanentError(f"kubeconfig {source} is not a kubeconfig document")
        return doc

    async def api(self) -> Api:
        """The connection, made on first use (one ApiClient per provider instance)."""
        async with self._lock:
            if self._api is None:
                cfg, user = await asyncio.to_thread(
                    load_configuration,
                    self._kubeconfig(),
                    self.config.context,
                    self.ctx.base_dir,
                    self.ctx.resolve_endpoint,
                )
                self._client = KubeClient(cfg, user, timeout=self.config.timeout)
                self._api = Api(
                    self._client, field_manager=self.config.field_manager, poll=self.ctx.scaled
                )
            return self._api

    def budget(self, seconds: float) -> float:
        """A wait bound scaled for rehearsals, never below a few real seconds (the API calls
        themselves are not simulated, so they take real time)."""
        return max(self.ctx.scaled(seconds), min(seconds, 5.0))

    async def close(self) -> None:
        if self._client is not None:
            self._client.close()
