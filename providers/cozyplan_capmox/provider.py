"""The ``capmox`` provider: Cluster API Proxmox and the Proxmox CSI plugin on a cluster.

Like ``cozystack`` it is a ``KubernetesBackedProvider``: the kubernetes provider's connection,
server-side apply and discovery, and waits with ``kube.poll``; its own settings are the
kubernetes provider's plus ``proxmox_ca_file``. It checks address pools with cozystack's
``netranges`` (capmox runs on CozyStack's bundled Cluster API operator, so the two share a
cluster).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from pydantic import Field

from cozyplan.provider import (
    PermanentError,
    Resource,
    SpecProblem,
    SpecView,
)
from cozyplan_cozystack.provider import KubernetesBackedProvider
from cozyplan_kubernetes.provider import KubernetesConfig


class CapmoxProviderConfig(KubernetesConfig):
    proxmox_ca_file: str | None = Field(
        None,
        description="PEM of the CA that signed Proxmox VE's certificate (relative to the spec); "
        "written as root_ca for capmox (the proxmox provider's ca_file)",
    )


class CapmoxProvider(KubernetesBackedProvider[CapmoxProviderConfig]):
    name = "capmox"
    lazy_modules = ("cozyplan_capmox.validate",)
    config_model = CapmoxProviderConfig
    resource_types: ClassVar[list[type[Resource[Any, Any]]]] = []

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

    @classmethod
    def validate_spec(cls, spec: SpecView) -> list[SpecProblem]:
        from cozyplan_capmox.validate import validate_spec

        return validate_spec(spec)
