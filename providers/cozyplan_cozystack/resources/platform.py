"""``cozystack_platform``: the ConfigMap, the installer, and upstream e2e's waits.

Create/update: Namespace ``cozy-system`` and the ConfigMap ``cozy-system/cozystack`` (server-side
apply: only our keys are ours), then ``cozystack-installer.yaml``, then the waits of
``hack/e2e-install-cozystack.bats``: Deployment ``cozy-system/cozystack`` Available, every
HelmRelease the platform chart renders for this bundle and ConfigMap Ready (progress
``N/M HelmReleases ready`` naming what is not ready, in dependency order), APIService
``v1alpha1.apps.cozystack.io`` Available, HelmRelease ``tenant-root/tenant-root`` Ready. At the
bound, a failed release is named with its message and every release it blocks.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import yaml
from pydantic import ValidationError

from cozyplan import plainyaml
from cozyplan.provider import ApplyContext, Change, PermanentError, Resource
from cozyplan.upstream.cozystack import release
from cozyplan.upstream.cozystack.release import SYSTEM_APP_LABEL, UnknownVersion
from cozyplan.upstream.gotemplate import TemplateError
from cozyplan_cozystack import helmreleases, kube
from cozyplan_cozystack.configmap import CozystackConfigMap
from cozyplan_cozystack.models import PlatformModel
from cozyplan_cozystack.provider import CozystackProvider
from cozyplan_kubernetes.discovery import NotServed

NAMESPACE = "cozy-system"
CONFIGMAP = "cozystack"
APISERVICE = "v1alpha1.apps.cozystack.io"
#: what ``flux reconcile helmrelease --force`` sets
REQUESTED_AT = "reconcile.fluxcd.io/requestedAt"
FORCE_AT = "reconcile.fluxcd.io/forceAt"


def expected(m: PlatformModel) -> list[dict[str, Any]]:
    try:
        return release(m.version).system_helmreleases(m.config.data())
    except (UnknownVersion, ValueError, TemplateError) as exc:
        raise PermanentError(f"bundle {m.config.bundle_name}: {exc}") from None


class CozystackPlatform(Resource[CozystackProvider, PlatformModel]):
    type_name = "cozystack_platform"
    model = PlatformModel
    description = (
        "CozyStack installed as upstream's installer and e2e do it: ConfigMap, installer, then "
        "every HelmRelease of the bundle Ready, the apps API and the root tenant."
    )

    @staticmethod
    def dump(obj: Any) -> dict[str, Any]:
        """ConfigMap keys as written in the spec and the ConfigMap (``bundle-name``)."""
        dumped: dict[str, Any] = obj.model_dump(mode="json", by_alias=True)
        return dumped

    async def read(self, current: PlatformModel) -> PlatformModel | None:
        api = await self.provider.api()
        cm = await kube.get(api, "v1", "ConfigMap", CONFIGMAP, NAMESPACE)
        if cm is None:
            return None
        live = dict(cm.get("data") or {})
        ours = current.config.data()
        merged = {k: live[k] for k in ours if k in live}
        for key in current.config.model_extra or {}:
            if key in live and key not in merged:
                merged[key] = live[key]
        config = _config_from_data(merged, current.config)
        wanted = helmreleases.wanted_of(expected(current))
        rep = helmreleases.report(wanted, await self._live(api))
        return current.model_copy(
            update={
                "config": config,
                "ready": rep.done,
                "helmreleases": [w.key for w in wanted],
            }
        )

    async def _live(self, api: Any) -> dict[str, dict[str, Any]]:
        try:
            kind = await api.kind(*kube.HELMRELEASE)
        except NotServed:
            api.discovery.invalidate()  # Flux is not installed yet: ask again next time
            return {}
        items, _ = await api.list(kind, None, label_selector=f"{SYSTEM_APP_LABEL}=true")
        return {f"{i['metadata']['namespace']}/{i['metadata']['name']}": i for i in items}

    async def _converge(
        self, m: PlatformModel, ctx: ApplyContext, prior: PlatformModel | None = None
    ) -> PlatformModel:
        api = await self.provider.api()
        before = expected(prior) if prior is not None and prior.version == m.version else []
        wanted = helmreleases.wanted_of(expected(m), before)
        await kube.apply(
            api, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}}
        )
        await kube.apply(
            api,
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": CONFIGMAP, "namespace": NAMESPACE},
                "data": m.config.data(),
            },
        )
        for obj in release(m.version).installer_manifest():
            await kube.apply(api, obj)

        async def installer() -> str | None:
            dep = await kube.get(api, "apps/v1", "Deployment", "cozystack", NAMESPACE)
            why = kube.condition(dep, "Available=True")
            return None if why is None else f"Deployment cozy-system/cozystack: {why}"

        await self.provider.wait(
            installer,
            timeout=m.timeout,
            what="the installer is not Available",
            progress=ctx.progress,
        )

        await self._retry_failed(api, wanted, ctx)

        async def releases() -> str | None:
            rep = helmreleases.report(wanted, await self._live(api))
            return None if rep.done else (rep.failure() if rep.blocks else rep.line())

        await self.provider.wait(
            releases,
            timeout=m.timeout,
            what="CozyStack's HelmReleases are not all Ready",
            progress=ctx.progress,
            summary=progress_summary,
        )
        ctx.progress(f"{len(wanted)}/{len(wanted)} HelmReleases ready")

        async def apps_api() -> str | None:
            svc = await kube.get(api, "apiregistration.k8s.io/v1", "APIService", APISERVICE, None)
            why = kube.condition(svc, "Available=True")
            if why is not None:
                return f"APIService {APISERVICE}: {why}"
            root = await kube.get(api, *kube.HELMRELEASE, "tenant-root", "tenant-root")
            why = kube.condition(root, "Ready=True")
            return None if why is None else f"HelmRelease tenant-root/tenant-root: {why}"

        await self.provider.wait(
            apps_api,
            timeout=m.timeout,
            what="the apps API or the root tenant is not ready",
            progress=ctx.progress,
        )
        return m.model_copy(update={"ready": True, "helmreleases": [w.key for w in wanted]})

    async def _retry_failed(self, api: Any, wanted: list[Any], ctx: ApplyContext) -> None:
        """Ask Flux to try failed releases again, as ``flux reconcile helmrelease --force``: a
        release whose retries are exhausted stays failed until a reconcile is requested."""
        live = await self._live(api)
        stamp = datetime.now(UTC).isoformat()
        for w in wanted:
            obj = live.get(w.key)
            if obj is None or not helmreleases.status_of(obj).failed:
                continue
            ctx.progress(f"HelmRelease {w.key} failed: requesting a reconcile")
            meta = obj["metadata"]
            annotations = {REQUESTED_AT: stamp, FORCE_AT: stamp}
            await kube.apply(
                api,
                {
                    "apiVersion": obj["apiVersion"],
                    "kind": "HelmRelease",
                    "metadata": {
                        "name": meta["name"],
                        "namespace": meta["namespace"],
                        "annotations": annotations,
                    },
                },
            )

    async def create(self, planned: PlatformModel, ctx: ApplyContext) -> PlatformModel:
        return await self._converge(planned, ctx)

    async def update(
        self,
        prior: PlatformModel,
        planned: PlatformModel,
        changes: Sequence[Change],
        ctx: ApplyContext,
    ) -> PlatformModel:
        return await self._converge(planned, ctx, prior)

    async def delete(self, prior: PlatformModel, ctx: ApplyContext) -> None:
        # Uninstalling CozyStack is not an object deletion (upstream has no uninstaller that
        # keeps the cluster usable): forget it, say so.
        ctx.progress(
            "CozyStack stays installed: removing cozystack_platform only forgets it "
            "(delete namespace cozy-system by hand to uninstall)"
        )


def progress_summary(reason: str) -> str:
    """What must change for a new progress line: the count and the first not-ready release."""
    return "; ".join(reason.split("; ")[:2])


def _config_from_data(data: dict[str, str], spec: CozystackConfigMap) -> CozystackConfigMap:
    """The ConfigMap's live data in the spec's form (so an unchanged one plans empty)."""
    if data == spec.data():
        return spec
    values = {k: (_parse_values(v) if k.startswith("values-") else v) for k, v in data.items()}
    try:
        return CozystackConfigMap.model_validate(values)
    except ValidationError:  # edited into something invalid: still show it as drift
        names = {info.alias or n: n for n, info in CozystackConfigMap.model_fields.items()}
        fields: dict[str, Any] = {names.get(k, k): v for k, v in values.items()}
        return CozystackConfigMap.model_construct(None, **fields)


def _parse_values(text: str) -> Any:
    try:
        return plainyaml.load(text) or {}
    except yaml.YAMLError:
        return text
