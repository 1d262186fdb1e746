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
from typing import Any, ClassVar
from urllib.parse import urlparse

import aiohttp

from cozyplan.lab.cozystack import flux
from cozyplan.lab.cozystack.apps import AppsController
from cozyplan.lab.cozystack.capi import Core, Operator
from cozyplan.lab.cozystack.capmox import Capmox
from cozyplan.lab.cozystack.client import ApiError, KubeClient
from cozyplan.lab.cozystack.context import HR_API, ClusterContext
from cozyplan.lab.cozystack.csi import Csi
from cozyplan.lab.cozystack.effects import Effects
from cozyplan.lab.cozystack.platform import HelmController, Installer, requested_at
from cozyplan.lab.cozystack.pve import PveError
from cozyplan.lab.cozystack.storage import Linstor, MetalLB, Volumes
from cozyplan.lab.framework import LabError, LabWorld, Simulator
from cozyplan.upstream.cozystack import release

log = logging.getLogger(__name__)

TICK = 1.0
DEFAULT_FAULT = "context deadline exceeded"
VERSION = "v0.37.2"


class ClusterLoop:
    """The controllers of one cluster, one pass per tick."""

    def __init__(self, ctx: ClusterContext) -> None:
        self.ctx = ctx
        self.installer = Installer(ctx)
        self.helm = HelmController(ctx)
        self.effects = Effects(ctx)
        self.apps = AppsController(ctx)
        self.linstor = Linstor(ctx)
        self.volumes = Volumes(ctx, self.linstor)
        self.metallb = MetalLB(ctx)
        self.operator = Operator(ctx)
        self.capi = Core(ctx)
        self.capmox = Capmox(ctx)
        self.csi = Csi(ctx)
        self.releases: list[dict[str, Any]] = []

    async def tick(self) -> None:
        # helm-controller exists only once the installer has installed Flux: before that a
        # HelmRelease is an inert object (nothing reconciles it), as on a bare cluster
        flux_running = await self.installer.reconcile()
        self.releases = await self.helm.reconcile() if flux_running else []
        ready = {flux.key_of(hr) for hr in self.releases if flux.is_ready(hr)}
        await self.effects.reconcile(ready)
        await self.apps.reconcile(self.releases)
        await self.linstor.reconcile(ready)
        await self.volumes.reconcile()
        await self.metallb.reconcile(ready)
        await self.operator.reconcile(ready)
        await self.capi.reconcile(ready)
        await self.capmox.reconcile()
        await self.csi.reconcile(self.releases, ready)

    async def run(self) -> None:
        while True:
            started = time.monotonic()
            try:
                await self.tick()
                self.ctx.state.pop("last_error", None)
                self.ctx.state["tick_seconds"] = round(time.monotonic() - started, 3)
            except (TimeoutError, ApiError, PveError, aiohttp.ClientError, OSError) as exc:
                self.ctx.state["last_error"] = str(exc)  # a flaky API: try again next tick
            self.ctx.world.save()
            await asyncio.sleep(max(0.02, self.ctx.scaled(TICK)))


class CozystackSimulator(Simulator):
    name: ClassVar[str] = "cozystack"

    def __init__(self, world: LabWorld) -> None:
        super().__init__(world)
        self.data: dict[str, Any] = world.data("cozystack")
        self.loops: dict[str, ClusterLoop] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._watcher: asyncio.Task[None] | None = None

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
        if not record.get("ca_crt") or not record.get("endpoint"):
            return
        parsed = urlparse(str(record["endpoint"]))
        host, port = parsed.hostname or "", parsed.port or 6443
        real = self.world.lookup_endpoint("kubernetes", host, port)
        if real is None:
            return  # its API server is not up yet
        client = KubeClient(
            f"https://{real[0]}:{real[1]}",
            host,
            str(record["ca_crt"]),
            str(record["ca_key"]),
            user="system:serviceaccount:cozy-system:cozystack",
            field_manager="cozystack",
            workdir=self.world.dir / "cozystack",
        )
        state = self.data.setdefault("clusters", {}).setdefault(cluster_id, {})
        ctx = ClusterContext(
            cluster_id=cluster_id,
            world=self.world,
            client=client,
            release=release(VERSION),
            faults=self._faults(),
            publish=self.world.publish,
            state=state,
            stalled=self.data.setdefault("stalled", {}),
        )
        loop = ClusterLoop(ctx)
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
