"""``k8s_secret``: a Secret from plain-text values, which are sensitive everywhere.

The values are base64-encoded into ``data`` and server-side applied like any manifest; drift is
on the keys this resource sets (a key another manager adds is not drift).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from typing import Annotated, Any

from pydantic import Field

from cozyplan.provider import (
    ApplyContext,
    Change,
    Computed,
    Noise,
    RequiresReplace,
    Resource,
    Sensitive,
    SpecModel,
)
from cozyplan_kubernetes.discovery import NotServed
from cozyplan_kubernetes.provider import KubernetesProvider
from cozyplan_kubernetes.resources.manifest import K8sManifest, ManifestModel


class SecretModel(SpecModel):
    name: Annotated[str, RequiresReplace()]
    namespace: Annotated[str | None, RequiresReplace()] = None
    type: Annotated[str, RequiresReplace()] = "Opaque"
    data: Annotated[dict[str, str], Sensitive()] = Field(
        default_factory=dict, description="plain-text values (encoded for you)"
    )
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)
    force_conflicts: bool = False
    uid: Annotated[str | None, Computed(), Noise()] = None


def _encode(value: str) -> str:
    return base64.b64encode(value.encode()).decode()


def _decode(value: Any) -> Any:
    try:
        return base64.b64decode(str(value), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return value


class K8sSecret(Resource[KubernetesProvider, SecretModel]):
    type_name = "k8s_secret"
    model = SecretModel
    description = "A Secret from plain-text values (sensitive in plans, output and state)."
    taint_on_failed_create = False  # applying again is idempotent

    def _manifest(self, m: SecretModel) -> ManifestModel:
        metadata: dict[str, Any] = {"name": m.name}
        if m.namespace:
            metadata["namespace"] = m.namespace
        if m.labels:
            metadata["labels"] = dict(m.labels)
        if m.annotations:
            metadata["annotations"] = dict(m.annotations)
        obj = {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": metadata,
            "type": m.type,
            "data": {k: _encode(v) for k, v in m.data.items()},
        }
        return ManifestModel(manifest=obj, force_conflicts=m.force_conflicts)

    def _objects(self) -> K8sManifest:
        return K8sManifest(self.provider)

    async def read(self, current: SecretModel) -> SecretModel | None:
        try:
            found = await self._objects().read(self._manifest(current))
        except NotServed:
            return None
        if found is None or found.manifest is None:
            return None
        meta = found.manifest.get("metadata") or {}
        data = (found.secret_data or {}).get("data") or {}
        return current.model_copy(
            update={
                "type": found.manifest.get("type", current.type),
                "labels": meta.get("labels") or {},
                "annotations": meta.get("annotations") or {},
                "data": {k: _decode(v) for k, v in data.items()},
                "uid": found.uid,
            }
        )

    async def create(self, planned: SecretModel, ctx: ApplyContext) -> SecretModel:
        applied = await self._objects().create(self._manifest(planned), ctx)
        return planned.model_copy(update={"uid": applied.uid})

    async def update(
        self, prior: SecretModel, planned: SecretModel, changes: Sequence[Change], ctx: ApplyContext
    ) -> SecretModel:
        return await self.create(planned, ctx)

    async def delete(self, prior: SecretModel, ctx: ApplyContext) -> None:
        await self._objects().delete(self._manifest(prior), ctx)

    async def import_resource(self, import_id: str) -> SecretModel | None:
        """``NAMESPACE/NAME`` (or ``NAME`` in the provider's namespace)."""
        namespace, _, name = import_id.strip().rpartition("/")
        if not name or "/" in namespace:
            raise ValueError("expected NAMESPACE/NAME")
        api = await self.provider.api()
        kind = await api.kind("v1", "Secret")
        live = await api.get(kind, name, namespace or self.provider.config.namespace)
        if live is None:
            return None
        meta = live.get("metadata") or {}
        return SecretModel(
            name=name,
            namespace=namespace or None,
            type=str(live.get("type") or "Opaque"),
            data={k: _decode(v) for k, v in (live.get("data") or {}).items()},
            uid=meta.get("uid"),
        )
