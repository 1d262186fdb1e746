"""The installer and Flux, as the cluster sees them.

Installer (``scripts/installer.sh`` in the ``cozy-system/cozystack`` Deployment): once that
Deployment is Available it installs Flux (its CRDs), then renders the platform chart from the
live ConfigMap and Nodes (``helm template``, with ``lookup`` answered by the API) and applies
it: namespaces, HelmRepositories, one HelmRelease per bundle entry, ``tenant-root``. Releases
the chart marks for deletion are deleted. It re-renders when the ConfigMap or the nodes change.

helm-controller: every HelmRelease gets the Ready condition ``flux.decide`` gives, installs take
(scaled) time once their dependencies are Ready, and injected faults fail with Helm's message.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import cast

from cozyplan.lab.cozystack import crds, flux
from cozyplan.lab.cozystack.context import HR_API, ClusterContext, Obj, condition, same_condition
from cozyplan.upstream.cozystack.release import DELETION_LABEL

INSTALL_SECONDS = 2.0


async def apply_all(ctx: ClusterContext, objects: list[Obj]) -> bool:
    """Apply every object; False while some kind is not served yet."""
    done = True
    for obj in objects:
        if await ctx.client.apply(obj) is None:
            done = False
    return done


def fingerprint(value: object) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()


async def apply_once(ctx: ClusterContext, name: str, objects: Callable[[], list[Obj]]) -> bool:
    """Apply the set ``name`` (a release's CRDs, say) until it is all applied, then no more:
    not on every controller pass (a dozen server-side applies of big CRDs per tick kept the
    lab busy), nor when the lab starts again with the same objects already applied (the world
    keeps what was applied last, by content). False while some kind is not served yet."""
    if name in ctx.applied:
        return True
    wanted = objects()
    digest = fingerprint(wanted)
    done = ctx.state.setdefault("applied_sets", {})
    if done.get(name) != digest:
        if not await apply_all(ctx, wanted):
            return False
        done[name] = digest
    ctx.applied.add(name)
    return True


def _render_inputs(table: dict[tuple[str, str, str, str], Obj]) -> str:
    """What the platform chart's output depends on: the ConfigMap, the nodes, which releases
    exist (not their status, which changes all the time)."""
    cm = table[("v1", "ConfigMap", "cozy-system", "cozystack")].get("data") or {}
    nodes = [
        (
            n["metadata"]["name"],
            n["metadata"].get("labels") or {},
            (n.get("status") or {}).get("addresses") or [],
        )
        for n in table[("v1", "Node", "", "")].get("items") or []
    ]
    releases = sorted(k for k in table if k[1] == "HelmRelease")
    return fingerprint([cm, nodes, releases])


class Installer:
    def __init__(self, ctx: ClusterContext) -> None:
        self.ctx = ctx

    # what was rendered from which inputs, kept in the world: a lab that starts again (every
    # `--lab` command) does not re-apply an unchanged chart, which would bump the generation of
    # releases other writers share (tenant-root, written by the Tenant app too) and leave them
    # unreconciled for a moment right when a command reads them
    @property
    def _rendered(self) -> str | None:
        return cast("str | None", self.ctx.state.get("installer_rendered"))

    @_rendered.setter
    def _rendered(self, value: str | None) -> None:
        self.ctx.state["installer_rendered"] = value

    @property
    def _inputs(self) -> str | None:
        return cast("str | None", self.ctx.state.get("installer_inputs"))

    @_inputs.setter
    def _inputs(self, value: str | None) -> None:
        self.ctx.state["installer_inputs"] = value

    async def _available(self) -> bool:
        dep = await self.ctx.client.get("apps/v1", "Deployment", "cozystack", "cozy-system")
        for cond in ((dep or {}).get("status") or {}).get("conditions") or []:
            if cond.get("type") == "Available" and cond.get("status") == "True":
                return True
        return False

    async def _lookup_table(self) -> dict[tuple[str, str, str, str], Obj]:
        c = self.ctx.client
        table: dict[tuple[str, str, str, str], Obj] = {}
        cm = await c.get("v1", "ConfigMap", "cozystack", "cozy-system")
        if cm is not None:
            table[("v1", "ConfigMap", "cozy-system", "cozystack")] = cm
        table[("v1", "Node", "", "")] = {"items": await c.list("v1", "Node")}
        for hr in await c.list(HR_API, "HelmRelease"):
            meta = hr["metadata"]
            table[(HR_API, "HelmRelease", meta["namespace"], meta["name"])] = hr
        return table

    async def reconcile(self) -> bool:
        """One installer pass; True while Flux runs (the installer installs it first)."""
        if not await self._available():
            return False
        flux_installed = await apply_once(self.ctx, "flux", crds.flux)
        await self._install()
        return flux_installed

    async def _install(self) -> None:
        if await self.ctx.client.kind(HR_API, "HelmRelease") is None:
            self.ctx.client.forget_kinds()
            return
        table = await self._lookup_table()
        if ("v1", "ConfigMap", "cozy-system", "cozystack") not in table:
            return
        inputs = _render_inputs(table)
        if inputs == self._inputs:
            return  # the chart would render the same: nothing to do

        def lookup(api_version: str, kind: str, namespace: str, name: str) -> Obj:
            return table.get((api_version, kind, namespace, name), {})

        try:
            objects = self.ctx.release.platform_objects(
                lookup, api_versions=[HR_API, "source.toolkit.fluxcd.io/v1"]
            )
        except Exception as exc:  # the chart's own fail(): the installer logs and retries
            self.ctx.state["installer_error"] = str(exc)
            return
        self.ctx.state.pop("installer_error", None)
        digest = fingerprint(objects)
        if digest == self._rendered:
            self._inputs = inputs
            return
        kept = [
            o for o in objects if (o["metadata"].get("labels") or {}).get(DELETION_LABEL) != "true"
        ]
        if not await apply_all(self.ctx, kept):
            return
        for obj in objects:
            if (obj["metadata"].get("labels") or {}).get(DELETION_LABEL) == "true":
                meta = obj["metadata"]
                await self.ctx.client.delete(HR_API, "HelmRelease", meta["name"], meta["namespace"])
        self._rendered = digest
        self._inputs = inputs


#: what ``flux reconcile`` sets to make Flux try a HelmRelease again
REQUESTED_AT = "reconcile.fluxcd.io/requestedAt"


def requested_at(hr: Obj) -> str:
    return str(((hr.get("metadata") or {}).get("annotations") or {}).get(REQUESTED_AT) or "")


class HelmController:
    def __init__(self, ctx: ClusterContext) -> None:
        self.ctx = ctx
        self._started: dict[str, float] = {}

    async def reconcile(self) -> list[Obj]:
        """Update every HelmRelease's Ready condition; returns them as they now are."""
        c = self.ctx.client
        for repo in await c.list("source.toolkit.fluxcd.io/v1", "HelmRepository"):
            wanted = condition("Ready", "True", "Succeeded", "stored artifact: revision 'sha256'")
            if not same_condition(repo, wanted):
                await c.patch_status(repo, {"conditions": [wanted]})
        releases = await c.list(HR_API, "HelmRelease")
        by_key = {flux.key_of(hr): hr for hr in releases}
        installed: set[str] = set(self.ctx.state.setdefault("installed", []))
        now = self.ctx.clock()
        changed = True
        while changed:  # a release turning Ready may unblock others in the same pass
            changed = False
            for hr in releases:
                key = flux.key_of(hr)
                fault = self.ctx.faults.get(key)
                if key in self.ctx.stalled and requested_at(hr) != self.ctx.stalled[key]:
                    # `flux reconcile --force`: a stalled release is tried again, and succeeds
                    del self.ctx.stalled[key]
                    self.ctx.faults.pop(key, None)
                    fault = None
                if fault:
                    installed.discard(key)
                    self._started.pop(key, None)
                decision = flux.decide(hr, by_key, fault, key in installed)
                if decision.installable:
                    started = self._started.setdefault(key, now)
                    if now - started >= self.ctx.scaled(INSTALL_SECONDS):
                        installed.add(key)
                        decision = flux.decide(hr, by_key, None, True)
                wanted = condition("Ready", decision.status, decision.reason, decision.message)
                generation = hr["metadata"].get("generation")
                status = hr.get("status") or {}
                if same_condition(hr, wanted) and status.get("observedGeneration") == generation:
                    continue
                new_status = {"conditions": [wanted], "observedGeneration": generation}
                updated = await c.patch_status(hr, new_status)
                if updated is not None:
                    hr.clear()
                    hr.update(updated)
                    changed = changed or decision.status == "True"
        self.ctx.state["installed"] = sorted(installed)
        return releases

    def next_due(self) -> float | None:
        """Seconds until the first install in progress completes (None: none is)."""
        installed = set(self.ctx.state.get("installed") or ())
        pending = [
            started + self.ctx.scaled(INSTALL_SECONDS)
            for key, started in self._started.items()
            if key not in installed
        ]
        return max(0.0, min(pending) - self.ctx.clock()) if pending else None
