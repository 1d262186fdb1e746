"""One CozyStack cluster's controllers (``ClusterLoop``), loaded with the lab's first cluster."""

from __future__ import annotations

import asyncio
import time
from typing import Any
from urllib.parse import urlparse

import aiohttp

from cozyplan.lab.cozystack import flux
from cozyplan.lab.cozystack.apps import AppsController
from cozyplan.lab.cozystack.capi import Core, Operator
from cozyplan.lab.cozystack.capmox import Capmox
from cozyplan.lab.cozystack.client import ApiError, KubeClient
from cozyplan.lab.cozystack.context import ClusterContext
from cozyplan.lab.cozystack.csi import Csi
from cozyplan.lab.cozystack.effects import Effects
from cozyplan.lab.cozystack.platform import HelmController, Installer
from cozyplan.lab.cozystack.pve import PveError
from cozyplan.lab.cozystack.simulator import TICK
from cozyplan.lab.cozystack.storage import Linstor, MetalLB, Volumes
from cozyplan.lab.framework import LabWorld, cluster_topic
from cozyplan.upstream.cozystack import release

#: the longest an idle cluster's controllers wait (wall seconds) before a pass anyway: what
#: changes outside the cluster (a Proxmox VM, the Talos nodes) sends no pulse
IDLE_WAIT = 0.5
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
        """A pass per tick while the cluster changes; when a pass changes nothing and nothing
        else wrote meanwhile, the loop waits for the next write to the cluster (or the next
        install to complete), backing off up to IDLE_WAIT: an idle lab at time scale 0.01
        polled ~30 requests 50 times a second and kept a core busy."""
        world, topic = self.ctx.world, cluster_topic(self.ctx.cluster_id)
        tick = max(0.02, self.ctx.scaled(TICK))
        wait = tick
        while True:
            started, before = time.monotonic(), world.pulses(topic)
            try:
                await self.tick()
                self.ctx.state.pop("last_error", None)
                self.ctx.state["tick_seconds"] = round(time.monotonic() - started, 3)
                quiet = world.pulses(topic) == before
            except (TimeoutError, ApiError, PveError, aiohttp.ClientError, OSError) as exc:
                self.ctx.state["last_error"] = str(exc)  # a flaky API: try again next tick
                quiet = False
            world.save("cozystack")
            wait = min(wait * 2, max(tick, IDLE_WAIT)) if quiet else tick
            due = self.helm.next_due()
            if due is not None:
                wait = max(tick, min(wait, due))
            if quiet:
                await world.wait_pulse(topic, world.pulses(topic), wait)
            else:
                await asyncio.sleep(tick)


def attach(
    world: LabWorld,
    data: dict[str, Any],
    cluster_id: str,
    record: dict[str, Any],
    faults: dict[str, str],
) -> ClusterLoop | None:
    """The loop of a cluster the ``kubernetes`` simulator serves; None while it is not up."""
    if not record.get("ca_crt") or not record.get("endpoint"):
        return None
    parsed = urlparse(str(record["endpoint"]))
    host, port = parsed.hostname or "", parsed.port or 6443
    real = world.lookup_endpoint("kubernetes", host, port)
    if real is None:
        return None  # its API server is not up yet
    client = KubeClient(
        f"https://{real[0]}:{real[1]}",
        host,
        str(record["ca_crt"]),
        str(record["ca_key"]),
        user="system:serviceaccount:cozy-system:cozystack",
        field_manager="cozystack",
        workdir=world.dir / "cozystack",
    )
    state = data.setdefault("clusters", {}).setdefault(cluster_id, {})
    ctx = ClusterContext(
        cluster_id=cluster_id,
        world=world,
        client=client,
        release=release(VERSION),
        faults=faults,
        publish=world.publish,
        state=state,
        stalled=data.setdefault("stalled", {}),
    )
    return ClusterLoop(ctx)
