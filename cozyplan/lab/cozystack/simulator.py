"""``CozystackSimulator``: CozyStack's controllers for every lab Kubernetes cluster.

It finds the clusters the ``kubernetes`` simulator serves (world data + endpoint table) and runs,
as an API client of each (its own client certificate from the cluster CA), one reconcile loop:
installer, helm-controller, what Ready releases do, the apps API, LINSTOR, volume binding,
MetalLB. Time is scaled like every simulator's.

Fault injection: ``fail_release("cozy-cert-manager/cert-manager", "timed out")`` makes that
HelmRelease's install fail (its dependants then wait on it, as with Flux); ``heal_release``
lets it install. Persistent in the world (``cozystack.faults``); also at start with
``--set cozystack.fail_release=NS/NAME`` (``cozystack.fail_message`` for the text).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import TYPE_CHECKING, Any, ClassVar

from cozyplan.lab.cozystack import flux
from cozyplan.lab.framework import LabError, LabWorld, Simulator

if TYPE_CHECKING:
    from cozyplan.lab.cozystack.loop import ClusterLoop

log = logging.getLogger(__name__)

TICK = 1.0
DEFAULT_FAULT = "context deadline exceeded"


class CozystackSimulator(Simulator):
    name: ClassVar[str] = "cozystack"
    server_modules = ("cozyplan.lab.cozystack.loop",)

    def __init__(self, world: LabWorld) -> None:
        super().__init__(world)
        self.data: dict[str, Any] = world.data("cozystack")
        self.loops: dict[str, ClusterLoop] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._watcher: asyncio.Task[None] | None = None

    @classmethod
    def serves(cls, data: dict[str, Any]) -> bool:
        return bool(data.get("clusters"))

    async def start(self) -> None:
        wanted = self.world.option("cozystack", "fail_release")
        if wanted:
            message = str(self.world.option("cozystack", "fail_message", DEFAULT_FAULT))
            for key in str(wanted).split(","):
                self.fail_release(key.strip(), message)
        self._watcher = asyncio.get_running_loop().create_task(self._watch())

    async def stop(self) -> None:
        tasks = [t for t in [self._watcher, *self._tasks.values()] if t is not None]
        for task in tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        for loop in self.loops.values():
            await loop.ctx.client.close()
        self.loops.clear()
        self._tasks.clear()
        self.world.save()

    # -- clusters ------------------------------------------------------------------------------
    async def _watch(self) -> None:
        while True:
            records = (self.world.data("kubernetes").get("clusters") or {}).items()
            for cluster_id, record in list(records):
                if cluster_id not in self.loops:
                    self._attach(cluster_id, record)
            await asyncio.sleep(max(0.05, self.world.scaled(TICK)))

    def _attach(self, cluster_id: str, record: dict[str, Any]) -> None:
        # the controllers (aiohttp, the apps API's schemas, the platform chart) load with the
        # first cluster: a lab with no Kubernetes yet (most rehearsals of Day 1) starts without
        from cozyplan.lab.cozystack.loop import attach

        loop = attach(self.world, self.data, cluster_id, record, self._faults())
        if loop is not None:
            self.loops[cluster_id] = loop
            self._tasks[cluster_id] = asyncio.get_running_loop().create_task(loop.run())

    # -- faults ----------------------------------------------------------------------------------
    def _faults(self) -> dict[str, str]:
        faults: dict[str, str] = self.data.setdefault("faults", {})
        return faults

    def fail_release(self, key: str, message: str = DEFAULT_FAULT) -> None:
        """Make HelmRelease ``namespace/name`` fail to install with ``message``."""
        if "/" not in key:
            raise ValueError(f"name the HelmRelease as NAMESPACE/NAME, not {key!r}")
        self._faults()[key] = message
        self.world.save()

    def heal_release(self, key: str) -> None:
        self._faults().pop(key, None)
        self.world.save()

    async def control(self, args: dict[str, Any]) -> dict[str, Any]:
        """``fail_release=NS/NAME [message=TEXT]``, ``heal_release=NS/NAME``, or an
        out-of-band change ``drift=configmap|helmrelease|tenant-app`` (``cozyplan lab drift``)."""
        if "drift" in args:
            return await self._drift(args)
        if "fail_release" in args:
            self.fail_release(str(args["fail_release"]), str(args.get("message") or DEFAULT_FAULT))
        elif "heal_release" in args:
            self.heal_release(str(args["heal_release"]))
        else:
            raise LabError(
                "cozystack commands: fail_release=NS/NAME [message=TEXT], heal_release=NS/NAME"
            )
        return {"faults": dict(self._faults())}

    # -- out-of-band changes (cozyplan/lab/drift.py) ---------------------------------------------
    async def _cluster(self, wait: float = 30.0) -> ClusterLoop:
        deadline = time.monotonic() + wait
        while not self.loops:
            if time.monotonic() > deadline:
                raise LabError("no Kubernetes cluster in this lab yet: apply the spec first")
            await asyncio.sleep(0.05)
        return next(iter(self.loops.values()))

    async def _drift(self, args: dict[str, Any]) -> dict[str, Any]:
        from cozyplan.lab.cozystack.context import HR_API
        from cozyplan.lab.cozystack.platform import requested_at

        kind = str(args["drift"])
        loop = await self._cluster()
        c = loop.ctx.client  # the API as an operator with kubectl would use it
        if kind == "configmap":
            ns, name = str(args["namespace"]), str(args["name"])
            cm = await c.get("v1", "ConfigMap", name, ns)
            if cm is None:
                raise LabError(f"no ConfigMap {ns}/{name}")
            await c.merge_patch(cm, {"data": {str(args["key"]): str(args["value"])}})
            return {"configmap": f"{ns}/{name}", str(args["key"]): str(args["value"])}
        if kind == "helmrelease":
            key = str(args["release"])
            ns, _, name = key.partition("/")
            hr = await c.get(HR_API, "HelmRelease", name, ns)
            if hr is None:
                raise LabError(f"no HelmRelease {key}")
            message = str(args.get("message") or "upgrade retries exhausted: " + DEFAULT_FAULT)
            self._faults()[key] = message
            self.data.setdefault("stalled", {})[key] = requested_at(hr)
            self.world.save()
            return {"helmrelease": key, "fails_with": message}
        if kind == "tenant-app":
            api, k = str(args["api_version"]), str(args["kind"])
            ns, name = str(args["namespace"]), str(args["name"])
            if await c.get(api, k, name, ns) is None:
                raise LabError(f"no {k} {ns}/{name}")
            await c.delete(api, k, name, ns)
            return {"deleted": f"{k} {ns}/{name}"}
        raise LabError(f"unknown drift {kind!r} (cozystack: configmap, helmrelease, tenant-app)")

    def status(self) -> dict[str, Any]:
        out: dict[str, Any] = {"faults": dict(self._faults()), "clusters": {}}
        for cid, loop in self.loops.items():
            releases = loop.releases
            ready = sum(1 for hr in releases if flux.is_ready(hr))
            out["clusters"][cid] = {
                "helmreleases": f"{ready}/{len(releases)} ready",
                "installer_error": loop.ctx.state.get("installer_error"),
                "last_error": loop.ctx.state.get("last_error"),
                "tick_seconds": loop.ctx.state.get("tick_seconds"),
            }
        return out
