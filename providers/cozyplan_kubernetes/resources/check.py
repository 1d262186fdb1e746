"""``k8s_check``: named health checks, re-evaluated at every plan and refresh.

``read`` runs the checks that only look (not the probes, which create objects: a plan changes
nothing): a failing check reads as ``passing: false`` with its ``failures``, so ``refresh
--detailed-exitcode`` exits 2 and the next apply updates it, which runs every check, probes too,
waits (bounded) for them to pass and fails listing what still fails. Creating it waits the same
way, after the resources it depends on are applied.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping, Sequence
from typing import Annotated, Any

from pydantic import Field

from cozyplan.provider import (
    ApplyContext,
    Change,
    Computed,
    PermanentError,
    PlanError,
    Resource,
    SpecModel,
)
from cozyplan_kubernetes import checks
from cozyplan_kubernetes.checks import (
    HelmReleasesReady,
    LoadBalancerAddress,
    NodesReady,
    NoFailingPods,
    StorageBinds,
)
from cozyplan_kubernetes.provider import KubernetesProvider


class CheckModel(SpecModel):
    # one field per registered check (checks.REGISTRY): set the ones to run
    nodes_ready: NodesReady | None = None
    no_failing_pods: NoFailingPods | None = None
    helmreleases_ready: HelmReleasesReady | None = None
    storage_binds: StorageBinds | None = None
    load_balancer: LoadBalancerAddress | None = None
    timeout: float = Field(300.0, gt=0, description="seconds apply waits for the checks to pass")
    interval: float = Field(5.0, gt=0, description="seconds between evaluations while waiting")
    #: false while a check fails (drift; the next apply waits for it again)
    passing: bool = True
    failures: Annotated[list[str] | None, Computed()] = None


class K8sCheck(Resource[KubernetesProvider, CheckModel]):
    type_name = "k8s_check"
    model = CheckModel
    description = "Cluster health checks (nodes, pods, HelmReleases, storage, load balancers)."
    crash_marker = False  # creates nothing that outlives the check
    reread_after_dependencies = True  # evaluated again after what it depends on is applied

    def _configured(self, m: CheckModel) -> dict[str, Any]:
        return {name: getattr(m, name) for name in checks.REGISTRY}

    def check_plan(self, prior: CheckModel | None, planned: Mapping[str, Any]) -> None:
        if planned.get("passing") is False:
            raise PlanError("passing is reported by the provider; leave it unset", field="passing")
        if not any(planned.get(name) for name in checks.REGISTRY):
            raise PlanError(f"set at least one check: {', '.join(checks.REGISTRY)}")

    async def _evaluate(self, m: CheckModel, *, probes: bool = True) -> list[str]:
        api = await self.provider.api()
        return await checks.run_all(
            api, self._configured(m), self.provider.ctx.scaled, probes=probes
        )

    async def read(self, current: CheckModel) -> CheckModel | None:
        failures = await self._evaluate(current, probes=False)
        return current.model_copy(update={"passing": not failures, "failures": failures})

    async def _until_passing(self, planned: CheckModel, ctx: ApplyContext) -> CheckModel:
        deadline = time.monotonic() + self.provider.budget(planned.timeout)
        shown: list[str] | None = None
        while True:
            failures = await self._evaluate(planned)
            if not failures:
                return planned.model_copy(update={"passing": True, "failures": []})
            if failures != shown:
                ctx.progress("; ".join(failures))
                shown = failures
            if time.monotonic() >= deadline:
                listed = "\n".join(f"  - {f}" for f in failures)
                raise PermanentError(f"checks still failing after {planned.timeout:g}s:\n{listed}")
            await asyncio.sleep(self.provider.ctx.scaled(planned.interval))

    async def create(self, planned: CheckModel, ctx: ApplyContext) -> CheckModel:
        return await self._until_passing(planned, ctx)

    async def update(
        self, prior: CheckModel, planned: CheckModel, changes: Sequence[Change], ctx: ApplyContext
    ) -> CheckModel:
        return await self._until_passing(planned, ctx)

    async def delete(self, prior: CheckModel, ctx: ApplyContext) -> None:
        return None  # nothing to remove
