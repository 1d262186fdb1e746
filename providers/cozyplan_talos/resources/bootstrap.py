"""``talos_bootstrap``: bootstrap etcd on one control-plane node, exactly once.

Before calling Bootstrap it asks the node for its etcd members: a cluster that already has
members is adopted, and a node answering ``ALREADY_EXISTS`` counts as done, so re-running after
a crash never bootstraps twice. A bootstrap is only ever taken as done when the node proves it
(members listed, ``ALREADY_EXISTS``, our own successful call); a read that cannot tell (node
unreachable, etcd not answering) never adopts a crashed create, it lets create ask again.
After bootstrapping it waits until every control plane in ``control_planes`` is an etcd
member, as CozyStack's e2e does before going on.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import Annotated
from urllib.parse import urlparse

from cozyplan.provider import (
    ApplyContext,
    Change,
    Computed,
    RequiresReplace,
    Resource,
    Sensitive,
    SpecModel,
    TemporaryError,
)
from cozyplan_talos import connect
from cozyplan_talos.addresses import NodeAddress
from cozyplan_talos.provider import TalosProvider

#: outcomes that prove the cluster was bootstrapped
_PROVEN = ("bootstrapped", "adopted")


class BootstrapModel(SpecModel):
    #: the control-plane node to bootstrap (e.g. ``talos_node.cp1.address``)
    node: Annotated[NodeAddress, RequiresReplace()]
    talosconfig: Annotated[str, Sensitive()]
    #: every control plane's address: done only once each is an etcd member
    control_planes: list[NodeAddress] = []
    #: ``bootstrapped`` when cozyplan called Bootstrap, ``adopted`` when etcd already ran
    outcome: Annotated[str | None, Computed()] = None


def _peer_hosts(peers: list[tuple[str, list[str]]]) -> set[str]:
    hosts = set()
    for name, urls in peers:
        hosts.add(name)
        hosts.update(urlparse(u).hostname or "" for u in urls)
    return hosts


class TalosBootstrap(Resource[TalosProvider, BootstrapModel]):
    type_name = "talos_bootstrap"
    model = BootstrapModel
    description = "Bootstraps etcd on one control-plane node, once; waits for every member."

    async def _peers(self, node: str, talosconfig: str) -> list[tuple[str, list[str]]] | None:
        """etcd members as the node sees them; None when it cannot tell (etcd not running)."""
        creds = connect.credentials(talosconfig)
        async with await connect.client(self.provider, node, creds) as c:
            return await c.etcd_peers()

    async def read(self, current: BootstrapModel) -> BootstrapModel | None:
        proven = current.outcome in _PROVEN
        try:
            peers = await self._peers(current.node, current.talosconfig)
        except TemporaryError as exc:
            if not proven:
                # a crashed create, and the node cannot tell us: not done until proven
                self.provider.ctx.log(
                    f"talos_bootstrap {current.node}: {exc}; bootstrap not proven, will check"
                )
                return None
            self.provider.ctx.log(f"talos_bootstrap {current.node}: {exc}; assuming unchanged")
            return current
        if peers and proven:
            return current
        if peers and not set(current.control_planes) - _peer_hosts(peers):
            # a crashed create the node proves done, with every control plane a member
            return current.model_copy(update={"outcome": "adopted"})
        if peers is None and proven:
            return current  # etcd not answering right now on a cluster we saw bootstrapped
        # never bootstrapped, wiped, or a crashed create not proven complete: create runs (it
        # adopts what the node proves bootstrapped and waits for the members)
        return None

    async def _wait_for_members(self, planned: BootstrapModel, ctx: ApplyContext) -> None:
        wanted = set(planned.control_planes)
        if not wanted:
            return
        cfg = self.provider.config
        deadline = time.monotonic() + self.provider.ctx.scaled(cfg.reboot_timeout)
        interval = self.provider.ctx.scaled(cfg.poll_interval)
        missing = sorted(wanted)
        said = False
        while True:
            try:
                peers = await self._peers(planned.node, planned.talosconfig)
            except TemporaryError:
                peers = None
            if peers is not None:
                missing = sorted(wanted - _peer_hosts(peers))
                if not missing:
                    return
            if not said:
                ctx.progress(f"waiting for {', '.join(missing)} to join etcd")
                said = True
            if time.monotonic() >= deadline:
                raise TemporaryError(
                    f"etcd on {planned.node}: {', '.join(missing)} not members after "
                    f"{cfg.reboot_timeout:g}s",
                    delay=10,
                )
            await asyncio.sleep(interval)

    async def create(self, planned: BootstrapModel, ctx: ApplyContext) -> BootstrapModel:
        peers = await self._peers(planned.node, planned.talosconfig)
        if peers:
            names = ", ".join(name for name, _ in peers)
            ctx.progress(f"etcd already has members ({names}): adopting")
            done = planned.model_copy(update={"outcome": "adopted"})
        else:
            creds = connect.credentials(planned.talosconfig)
            ctx.progress(f"bootstrapping etcd on {planned.node}")
            async with await connect.client(self.provider, planned.node, creds) as c:
                called = await c.bootstrap()
            done = planned.model_copy(update={"outcome": "bootstrapped" if called else "adopted"})
        await self._wait_for_members(done, ctx)
        return done

    async def update(
        self,
        prior: BootstrapModel,
        planned: BootstrapModel,
        changes: Sequence[Change],
        ctx: ApplyContext,
    ) -> BootstrapModel:
        done = planned.model_copy(update={"outcome": prior.outcome})
        await self._wait_for_members(done, ctx)
        return done

    async def delete(self, prior: BootstrapModel, ctx: ApplyContext) -> None:
        return None
