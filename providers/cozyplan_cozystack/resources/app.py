"""``cozystack_app`` and ``cozystack_tenant``: objects of the aggregated ``apps.cozystack.io``.

Applied with server-side apply to the cozystack-api; Ready = the app's HelmRelease
``<prefix><name>`` Ready (``pkg/registry/apps/application/rest.go``), plus the waits upstream's
e2e adds per kind: Kubernetes, the admin kubeconfig Secret (written to ``kubeconfig_path``,
0600); Postgres, Job ``postgres-<name>-init-job`` complete.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Sequence
from typing import Any

from cozyplan.provider import ApplyContext, Change, PermanentError, Resource
from cozyplan.upstream.cozystack import AppDefinition, release
from cozyplan.upstream.cozystack.appschema import check_app_spec
from cozyplan_cozystack import kube
from cozyplan_cozystack.models import DEFAULT_VERSION, AppModel, TenantModel
from cozyplan_cozystack.provider import CozystackProvider

APPS = "apps.cozystack.io/v1alpha1"
#: tenant options that install a service of their own (HelmRelease of that name)
TENANT_COMPONENTS = ("etcd", "ingress", "monitoring", "seaweedfs")


def tenant_namespace(name: str) -> str:
    """Where a tenant's own services and apps live: tenant-root for root, else tenant-<name>."""
    return "tenant-root" if name == "root" else f"tenant-{name}"


def definition(version: str, kind: str) -> AppDefinition:
    apps = release(version).app_definitions()
    if kind not in apps:
        raise PermanentError(f"no apps.cozystack.io kind {kind!r} in CozyStack {version}")
    return apps[kind]


def check_spec(version: str, kind: str, spec: dict[str, Any]) -> None:
    d = definition(version, kind)
    rel = release(version)
    problems = check_app_spec(
        rel.app_values_schema(d.chart) or d.schema, spec, rel.app_chart_values(d.chart)
    )
    if problems:
        raise PermanentError(
            "; ".join(f"spec.{'.'.join(map(str, p)) or '(root)'}: {m}" for p, m in problems)
        )


class _AppBase:
    provider: CozystackProvider

    async def _apply(
        self,
        version: str,
        kind: str,
        name: str,
        namespace: str,
        spec: dict[str, Any],
        timeout: float,
        ctx: ApplyContext,
    ) -> None:
        check_spec(version, kind, spec)
        api = await self.provider.api()
        await kube.apply(
            api,
            {
                "apiVersion": APPS,
                "kind": kind,
                "metadata": {"name": name, "namespace": namespace},
                "spec": spec,
            },
            timeout=timeout,
        )
        hr_name = definition(version, kind).prefix + name

        async def ready() -> str | None:
            hr = await kube.get(api, *kube.HELMRELEASE, hr_name, namespace)
            why = kube.condition(hr, "Ready=True")
            return None if why is None else f"HelmRelease {namespace}/{hr_name}: {why}"

        await self.provider.wait(
            ready,
            timeout=timeout,
            what=f"{kind} {namespace}/{name} is not Ready",
            progress=ctx.progress,
        )

    async def _read(
        self, version: str, kind: str, name: str, namespace: str
    ) -> tuple[dict[str, Any] | None, bool]:
        api = await self.provider.api()
        obj = await kube.get(api, APPS, kind, name, namespace)
        if obj is None:
            return None, False
        hr = await kube.get(
            api, *kube.HELMRELEASE, definition(version, kind).prefix + name, namespace
        )
        return obj, kube.condition(hr, "Ready=True") is None

    async def _delete(self, kind: str, name: str, namespace: str) -> None:
        api = await self.provider.api()
        await kube.delete(api, APPS, kind, name, namespace)


def _owned_spec(spec: dict[str, Any], live: dict[str, Any]) -> dict[str, Any]:
    """The live values at the paths the spec sets (the server fills defaults around them)."""
    out: dict[str, Any] = {}
    for key, value in spec.items():
        if key not in live:
            continue
        if isinstance(value, dict) and isinstance(live[key], dict):
            out[key] = _owned_spec(value, live[key])
        else:
            out[key] = live[key]
    return out


class CozystackApp(_AppBase, Resource[CozystackProvider, AppModel]):
    type_name = "cozystack_app"
    model = AppModel
    description = "Any apps.cozystack.io application (Postgres, Kubernetes, ...) in a tenant."

    async def read(self, current: AppModel) -> AppModel | None:
        obj, ready = await self._read(
            current.version, current.kind, current.name, current.namespace
        )
        if obj is None:
            return None
        spec = _owned_spec(current.spec, obj.get("spec") or {})
        return current.model_copy(update={"spec": spec, "ready": ready})

    async def create(self, planned: AppModel, ctx: ApplyContext) -> AppModel:
        await self._apply(
            planned.version,
            planned.kind,
            planned.name,
            planned.namespace,
            planned.spec,
            planned.timeout,
            ctx,
        )
        await self._extra_waits(planned, ctx)
        return planned.model_copy(update={"ready": True})

    async def update(
        self, prior: AppModel, planned: AppModel, changes: Sequence[Change], ctx: ApplyContext
    ) -> AppModel:
        return await self.create(planned, ctx)

    async def delete(self, prior: AppModel, ctx: ApplyContext) -> None:
        await self._delete(prior.kind, prior.name, prior.namespace)

    async def _extra_waits(self, m: AppModel, ctx: ApplyContext) -> None:
        api = await self.provider.api()
        if m.kind == "Postgres":
            job = f"postgres-{m.name}-init-job"

            async def init_done() -> str | None:
                obj = await kube.get(api, "batch/v1", "Job", job, m.namespace)
                why = kube.condition(obj, "Complete=True")
                return None if why is None else f"Job {m.namespace}/{job}: {why}"

            await self.provider.wait(
                init_done,
                timeout=m.timeout,
                what=f"Postgres {m.name}'s init job is not complete",
                progress=ctx.progress,
            )
        if m.kind == "Kubernetes":
            secret_name = f"kubernetes-{m.name}-admin-kubeconfig"
            found: dict[str, Any] = {}

            async def secret() -> str | None:
                obj = await kube.get(api, "v1", "Secret", secret_name, m.namespace)
                if obj is None or "super-admin.conf" not in (obj.get("data") or {}):
                    return f"Secret {m.namespace}/{secret_name} (key super-admin.conf) not there"
                found.update(obj)
                return None

            await self.provider.wait(
                secret,
                timeout=m.timeout,
                what=f"Kubernetes {m.name}'s admin kubeconfig is missing",
                progress=ctx.progress,
            )
            if m.kubeconfig_path:
                text = base64.b64decode(found["data"]["super-admin.conf"])
                path = self.provider.ctx.output_path(m.kubeconfig_path)  # a lab run: in the lab
                path.parent.mkdir(parents=True, exist_ok=True)
                tmp = path.with_suffix(path.suffix + ".tmp")
                fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
                with os.fdopen(fd, "wb") as fh:
                    fh.write(text)
                os.replace(tmp, path)


class CozystackTenant(_AppBase, Resource[CozystackProvider, TenantModel]):
    type_name = "cozystack_tenant"
    model = TenantModel
    description = "The root tenant's options or a child tenant (namespace tenant-<name>)."

    async def read(self, current: TenantModel) -> TenantModel | None:
        obj, ready = await self._read(DEFAULT_VERSION, "Tenant", current.name, current.namespace)
        if obj is None:
            return None
        values = _owned_spec(current.values, obj.get("spec") or {})
        return current.model_copy(update={"values": values, "ready": ready})

    async def create(self, planned: TenantModel, ctx: ApplyContext) -> TenantModel:
        await self._apply(
            DEFAULT_VERSION,
            "Tenant",
            planned.name,
            planned.namespace,
            planned.values,
            planned.timeout,
            ctx,
        )
        await self._components(planned, ctx)
        return planned.model_copy(update={"ready": True})

    async def _components(self, m: TenantModel, ctx: ApplyContext) -> None:
        """The tenant's own services upstream's e2e waits for (etcd, ingress, ...)."""
        api = await self.provider.api()
        namespace = tenant_namespace(m.name)
        names = [c for c in TENANT_COMPONENTS if m.values.get(c) is True]

        async def ready() -> str | None:
            for name in names:
                hr = await kube.get(api, *kube.HELMRELEASE, name, namespace)
                why = kube.condition(hr, "Ready=True")
                if why is not None:
                    return f"HelmRelease {namespace}/{name}: {why}"
            return None

        await self.provider.wait(
            ready,
            timeout=m.timeout,
            what=f"tenant {m.name}'s services are not Ready",
            progress=ctx.progress,
        )

    async def update(
        self,
        prior: TenantModel,
        planned: TenantModel,
        changes: Sequence[Change],
        ctx: ApplyContext,
    ) -> TenantModel:
        return await self.create(planned, ctx)

    async def delete(self, prior: TenantModel, ctx: ApplyContext) -> None:
        if prior.name == "root":
            return  # the root tenant belongs to the platform: forget it only
        await self._delete("Tenant", prior.name, prior.namespace)
