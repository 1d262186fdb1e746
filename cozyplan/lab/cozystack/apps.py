"""The apps API behind ``apps.cozystack.io``: each app is its HelmRelease.

As ``pkg/registry/apps/application/rest.go``: an app ``<Kind>/<name>`` in a namespace is the
HelmRelease ``<release.prefix><name>`` there (chart from the CozystackResourceDefinition, values
= the app's spec); its Ready condition is the HelmRelease's. A HelmRelease of an app chart with
no app object (``tenant-root``, a tenant's ``etcd``) shows up as the app. What the charts
create once Ready: a Tenant its namespace and its services' HelmReleases; a Kubernetes app its
admin kubeconfig Secret; a Postgres its init Job.
"""

from __future__ import annotations

import base64
from typing import Any

import yaml

from cozyplan.lab.cozystack import flux
from cozyplan.lab.cozystack.client import ApiError
from cozyplan.lab.cozystack.context import HR_API, ClusterContext, Obj, same_condition
from cozyplan.upstream.cozystack import AppDefinition
from cozyplan.upstream.cozystack.appschema import merge_values

APPS = "apps.cozystack.io/v1alpha1"
TENANT_SERVICES = ("etcd", "ingress", "monitoring", "seaweedfs")


def helmrelease_for(d: AppDefinition, app: Obj) -> Obj:
    """The HelmRelease of an app. CozyStack's API server stores an app *as* its HelmRelease
    (cozystack ``pkg/registry/apps/application/rest.go``: every verb converts between the two,
    Delete deletes the release); here the app is an object of its own, and owns its release
    (the garbage collector deletes it with the app)."""
    meta = app["metadata"]
    owned: dict[str, Any] = {}
    if meta.get("uid"):
        owned["ownerReferences"] = [
            {
                "apiVersion": APPS,
                "kind": d.kind,
                "name": meta["name"],
                "uid": meta["uid"],
                "controller": True,
            }
        ]
    return {
        "apiVersion": HR_API,
        "kind": "HelmRelease",
        "metadata": {
            "name": d.prefix + meta["name"],
            "namespace": meta["namespace"],
            "labels": {
                "apps.cozystack.io/application.kind": d.kind,
                "apps.cozystack.io/application.group": "apps.cozystack.io",
                "apps.cozystack.io/application.name": meta["name"],
                "cozystack.io/ui": "true",
            },
            **owned,
        },
        "spec": {
            "interval": "5m",
            "releaseName": d.prefix + meta["name"],
            "chart": {
                "spec": {
                    "chart": d.chart,
                    "version": ">= 0.0.0-0",
                    "reconcileStrategy": "Revision",
                    "sourceRef": {
                        "kind": "HelmRepository",
                        "name": "cozystack-apps",
                        "namespace": "cozy-public",
                    },
                }
            },
            "values": app.get("spec") or {},
        },
    }


def _app_owned(hr: Obj) -> bool:
    refs = (hr.get("metadata") or {}).get("ownerReferences") or []
    return any(str(ref.get("apiVersion")) == APPS for ref in refs)


def admin_kubeconfig(name: str, namespace: str) -> str:
    server = f"https://kubernetes-{name}.{namespace}.svc:6443"
    doc = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": f"kubernetes-{name}", "cluster": {"server": server}}],
        "contexts": [
            {
                "name": f"super-admin@kubernetes-{name}",
                "context": {"cluster": f"kubernetes-{name}", "user": "super-admin"},
            }
        ],
        "current-context": f"super-admin@kubernetes-{name}",
        "users": [{"name": "super-admin", "user": {"token": "lab"}}],
    }
    return yaml.safe_dump(doc, sort_keys=False)


class AppsController:
    def __init__(self, ctx: ClusterContext) -> None:
        self.ctx = ctx
        self.definitions = ctx.release.app_definitions()
        self._by_chart = {d.chart: d for d in self.definitions.values()}

    async def reconcile(self, releases: list[Obj]) -> None:
        c = self.ctx.client
        if await c.kind(APPS, "Tenant") is None:
            c.forget_kinds()
            return
        hrs = {flux.key_of(hr): hr for hr in releases}
        apps: dict[str, tuple[AppDefinition, Obj]] = {}
        for d in self.definitions.values():
            for app in await c.list(APPS, d.kind):
                hr_key = f"{app['metadata']['namespace']}/{d.prefix}{app['metadata']['name']}"
                apps[hr_key] = (d, app)
        for key, hr in hrs.items():  # releases of app charts with no app object yet
            chart = ((hr.get("spec") or {}).get("chart") or {}).get("spec", {}).get("chart")
            owner = self._by_chart.get(str(chart))
            name = hr["metadata"]["name"]
            if owner is None or key in apps or not name.startswith(owner.prefix):
                continue
            if _app_owned(hr):
                continue  # its app was deleted: the release goes with it, never the reverse
            values = (hr.get("spec") or {}).get("values") or {}
            try:
                # created only if absent: an app object someone applied meanwhile (cozyplan's
                # cozystack_tenant, say) must keep its values, not get the chart's defaults
                shown = await c.create(
                    {
                        "apiVersion": APPS,
                        "kind": owner.kind,
                        "metadata": {
                            "name": name[len(owner.prefix) :],
                            "namespace": hr["metadata"]["namespace"],
                        },
                        "spec": merge_values(
                            self.ctx.release.app_chart_values(owner.chart), values
                        ),
                    }
                )
            except ApiError as exc:  # the schema refuses what the chart was given: show it
                self.ctx.state.setdefault("app_errors", {})[key] = str(exc)
                continue
            if shown is not None:
                apps[key] = (owner, shown)
        for key, (d, app) in apps.items():
            current = hrs.get(key)
            wanted_values = app.get("spec") or {}
            if current is None or (current.get("spec") or {}).get("values") != wanted_values:
                current = await c.apply(helmrelease_for(d, app))
            if current is None:
                continue
            ready = flux.ready_condition(current)
            if ready is not None and not same_condition(app, dict(ready)):
                await c.patch_status(app, {"conditions": [dict(ready)], "version": "0.1.0"})
            if flux.is_ready(current):
                await self._chart_effects(d, app)

    async def _chart_effects(self, d: AppDefinition, app: Obj) -> None:
        c = self.ctx.client
        name, namespace = app["metadata"]["name"], app["metadata"]["namespace"]
        spec: dict[str, Any] = app.get("spec") or {}
        if d.kind == "Tenant":
            own = "tenant-root" if name == "root" else f"tenant-{name}"
            if name != "root":
                annotations = {
                    f"namespace.cozystack.io/{svc}": own if spec.get(svc) else namespace
                    for svc in TENANT_SERVICES
                }
                await c.apply(
                    {
                        "apiVersion": "v1",
                        "kind": "Namespace",
                        "metadata": {"name": own, "annotations": annotations},
                    }
                )
            for svc in TENANT_SERVICES:
                if spec.get(svc) is True and svc in {x.chart for x in self.definitions.values()}:
                    sd = self._by_chart[svc]
                    if await c.get(HR_API, "HelmRelease", sd.prefix + svc, own) is not None:
                        # made already (or by its own app object, e.g. Etcd `etcd` with the
                        # chart's values): re-applying `values: {}` would fight that writer
                        continue
                    await c.apply(
                        helmrelease_for(
                            sd, {"metadata": {"name": svc, "namespace": own}, "spec": {}}
                        )
                    )
        elif d.kind == "Kubernetes":
            secret = f"kubernetes-{name}-admin-kubeconfig"
            if await c.get("v1", "Secret", secret, namespace) is None:
                data = base64.b64encode(admin_kubeconfig(name, namespace).encode()).decode()
                await c.apply(
                    {
                        "apiVersion": "v1",
                        "kind": "Secret",
                        "metadata": {"name": secret, "namespace": namespace},
                        "data": {"super-admin.conf": data, "admin.conf": data},
                    }
                )
        elif d.kind == "Postgres":
            job = f"postgres-{name}-init-job"
            if await c.get("batch/v1", "Job", job, namespace) is None:
                await c.apply(
                    {
                        "apiVersion": "batch/v1",
                        "kind": "Job",
                        "metadata": {"name": job, "namespace": namespace},
                        "spec": {
                            "template": {
                                "spec": {
                                    "restartPolicy": "Never",
                                    "containers": [
                                        {
                                            "name": "init",
                                            "image": "ghcr.io/cloudnative-pg/postgresql",
                                        }
                                    ],
                                }
                            }
                        },
                    }
                )
