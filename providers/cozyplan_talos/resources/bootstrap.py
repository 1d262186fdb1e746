"""``talos_bootstrap``: bootstrap etcd on one control-plane node, exactly once.

Before calling Bootstrap it asks the node for its etcd members: a cluster that already has
members is adopted, and a node answering ``ALREADY_EXISTS`` counts as done, so re-running after
a crash never bootstraps twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

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
from cozyplan_talos.provider import TalosProvider


class BootstrapModel(SpecModel):
    #: the control-plane node to bootstrap (e.g. ``talos_node.cp1.address``)
    node: Annotated[str, RequiresReplace()]
    talosconfig: Annotated[str, Sensitive()]
    #: ``bootstrapped`` when cozyplan called Bootstrap, ``adopted`` when etcd already ran
    outcome: Annotated[str | None, Computed()] = None


class TalosBootstrap(Resource[TalosProvider, BootstrapModel]):
    type_name = "talos_bootstrap"
    model = BootstrapModel
    description = "Bootstraps etcd on one control-plane node, once."

    async def _members(self, node: str, talosconfig: str) -> list[str] | None:
        """etcd members as the node sees them; None when it cannot tell (etcd not running)."""
        creds = connect.credentials(talosconfig)
        async with await connect.client(self.provider, node, creds) as c:
            return await c.etcd_members()

    async def read(self, current: BootstrapModel) -> BootstrapModel | None:
        try:
            members = await self._members(current.node, current.talosconfig)
        except TemporaryError as exc:
            self.provider.ctx.log(f"talos_bootstrap {current.node}: {exc}; assuming unchanged")
            return current
        if members == []:
            return None  # configured but etcd never bootstrapped (or wiped)
        return current

    async def create(self, planned: BootstrapModel, ctx: ApplyContext) -> BootstrapModel:
        members = await self._members(planned.node, planned.talosconfig)
        if members:
            ctx.progress(f"etcd already has members ({', '.join(members)}): adopting")
            return planned.model_copy(update={"outcome": "adopted"})
        creds = connect.credentials(planned.talosconfig)
        ctx.progress(f"bootstrapping etcd on {planned.node}")
        async with await connect.client(self.provider, planned.node, creds) as c:
            called = await c.bootstrap()
        return planned.model_copy(update={"outcome": "bootstrapped" if called else "adopted"})

    async def update(
        self,
        prior: BootstrapModel,
        planned: BootstrapModel,
        changes: Sequence[Change],
        ctx: ApplyContext,
    ) -> BootstrapModel:
        return planned.model_copy(update={"outcome": prior.outcome})

    async def delete(self, prior: BootstrapModel, ctx: ApplyContext) -> None:
        return None
