"""``talos_node``: a machine config applied to the node at an address.

First apply: the node is in maintenance mode (TLS without client certificate, like
``talosctl apply-config --insecure``), which accepts only reboot/auto. Afterwards every call uses
mTLS with the talosconfig's client certificate; a changed config is re-applied with ``mode``
(auto: in place when Talos allows it, otherwise with a reboot) and, when the node reboots, we
wait (bounded) until it answers again.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Annotated, Literal

from cozyplan.provider import (
    ApplyContext,
    Change,
    Computed,
    Noise,
    RequiresReplace,
    Resource,
    Sensitive,
    SpecModel,
    TemporaryError,
)
from cozyplan_talos import connect
from cozyplan_talos.addresses import NodeAddress
from cozyplan_talos.provider import TalosProvider

Mode = Literal["auto", "reboot", "no_reboot", "staged"]


class NodeModel(SpecModel):
    #: the node's address (IP or name) as the cluster knows it; TLS is verified against it
    address: Annotated[NodeAddress, RequiresReplace()]
    #: ``talos_machine_config.NAME.machine_config``
    machine_config: Annotated[str, Sensitive()]
    #: ``talos_machine_config.NAME.talosconfig``
    talosconfig: Annotated[str, Sensitive()]
    mode: Mode = "auto"
    #: wait until the node answers again after a reboot
    wait: bool = True
    applied_sha256: Annotated[str | None, Computed(stable=False)] = None
    #: what the node did with the last apply (reboot, auto, no_reboot, staged)
    applied_mode: Annotated[str | None, Computed(stable=False), Noise()] = None


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


class TalosNode(Resource[TalosProvider, NodeModel]):
    type_name = "talos_node"
    model = NodeModel
    description = "Applies a machine config to a Talos node (maintenance mode first, then mTLS)."

    async def read(self, current: NodeModel) -> NodeModel | None:
        creds = connect.credentials(current.talosconfig)
        try:
            if not await connect.configured(self.provider, current.address, creds):
                return None  # back in maintenance mode (reinstalled): apply again
        except TemporaryError as exc:
            self.provider.ctx.log(f"talos_node {current.address}: {exc}; assuming unchanged")
        return current

    async def _apply(self, planned: NodeModel, ctx: ApplyContext, *, first: bool) -> NodeModel:
        creds = connect.credentials(planned.talosconfig)
        configured = await connect.configured(self.provider, planned.address, creds)
        data = planned.machine_config.encode()
        if configured:
            mode = planned.mode
            ctx.progress(f"applying config to {planned.address} (mode {mode})")
            async with await connect.client(self.provider, planned.address, creds) as c:
                result = await c.apply(data, mode)
        else:
            # maintenance mode accepts only reboot/auto/try; the first boot installs anyway
            mode = "reboot" if planned.mode == "reboot" else "auto"
            ctx.progress(f"applying config to {planned.address} in maintenance mode")
            async with await connect.client(self.provider, planned.address, None) as c:
                result = await c.apply(data, mode)
        for warning in result.warnings:
            ctx.progress(f"{planned.address}: warning: {warning}")
        rebooting = (not configured) or result.mode == "reboot"
        if planned.wait and result.mode != "staged":
            if rebooting:
                ctx.progress(f"waiting for {planned.address} to come back")
            await connect.wait_until_answers(
                self.provider, planned.address, creds, expect_reboot=rebooting
            )
        return planned.model_copy(
            update={"applied_sha256": _sha(planned.machine_config), "applied_mode": result.mode}
        )

    async def create(self, planned: NodeModel, ctx: ApplyContext) -> NodeModel:
        return await self._apply(planned, ctx, first=True)

    async def update(
        self, prior: NodeModel, planned: NodeModel, changes: Sequence[Change], ctx: ApplyContext
    ) -> NodeModel:
        still_staged = prior.applied_mode == "staged" and planned.mode != "staged"
        if prior.applied_sha256 == _sha(planned.machine_config) and not still_staged:
            # only talosconfig/mode/wait changed: nothing to send to the node
            return planned.model_copy(
                update={"applied_sha256": prior.applied_sha256, "applied_mode": prior.applied_mode}
            )
        return await self._apply(planned, ctx, first=False)

    async def delete(self, prior: NodeModel, ctx: ApplyContext) -> None:
        # Forgetting a node never wipes it: resetting a machine is `talosctl reset`'s job.
        ctx.progress(f"{prior.address}: left as is (not reset)")
