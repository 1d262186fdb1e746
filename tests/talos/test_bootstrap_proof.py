"""Issue 12 item 1: a bootstrap is only adopted when the node proves it; issue 11 item 9: the
bootstrap waits until every control plane is an etcd member."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

import cozyplan.lab.runtime as runtime
from cozyplan.lab.talos import simulator
from cozyplan.provider import ApplyContext
from cozyplan_talos import TalosProvider, connect
from cozyplan_talos.resources import TalosBootstrap, TalosNode
from tests.talos.conftest import talos_status
from tests.talos.helpers import rendered

CPS = ["10.0.0.211", "10.0.0.212", "10.0.0.213"]


async def _configure(provider: TalosProvider, actx: ApplyContext, ips: list[str]) -> str:
    cfg = await rendered(provider)
    node = TalosNode(provider)
    await asyncio.gather(
        *(
            node.create(
                node.parse(
                    {
                        "address": ip,
                        "machine_config": cfg.machine_config,
                        "talosconfig": cfg.talosconfig,
                    }
                ),
                actx,
            )
            for ip in ips
        )
    )
    return cfg.talosconfig or ""


async def _in_lab(lab: runtime.InProcessLab, coro: Any) -> None:
    """Run a coroutine on the lab's own loop (it runs in a thread)."""
    await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coro, lab.loop))


async def _members(provider: TalosProvider, node: str, talosconfig: str) -> list[str] | None:
    async with await connect.client(provider, node, connect.credentials(talosconfig)) as c:
        return await c.etcd_members()


def test_crashed_create_is_not_adopted_when_the_node_cannot_tell(
    lab: runtime.InProcessLab, provider: TalosProvider, actx: ApplyContext
) -> None:
    async def run() -> None:
        talosconfig = await _configure(provider, actx, CPS[:1])
        res = TalosBootstrap(provider)
        # the crash marker holds the planned attributes: outcome not known yet
        pending = res.parse({"node": CPS[0], "talosconfig": talosconfig})
        # configured, etcd not running (never bootstrapped): cannot tell -> not adopted
        assert await res.read(pending) is None
        # the node is down (rebooting): a temporary error -> still not adopted
        node = lab.runtime.simulators[0].nodes[CPS[0]]
        await _in_lab(lab, node.shutdown())
        assert await res.read(pending) is None
        await _in_lab(lab, node.boot())
        done = await res.create(pending, actx)
        assert done.outcome == "bootstrapped"
        # proven now: an unreachable node keeps it (logged), it is not re-created
        await _in_lab(lab, node.shutdown())
        assert await res.read(done) == done
        await _in_lab(lab, node.boot())

    asyncio.run(run())
    assert talos_status(lab)["bootstrap_calls"] == 1


def test_bootstrap_waits_for_every_control_plane_to_join_etcd(
    lab: runtime.InProcessLab, provider: TalosProvider, actx: ApplyContext
) -> None:
    async def run() -> None:
        talosconfig = await _configure(provider, actx, CPS)
        res = TalosBootstrap(provider)
        attrs = res.parse({"node": CPS[0], "talosconfig": talosconfig, "control_planes": CPS})
        done = await res.create(attrs, actx)
        assert done.outcome == "bootstrapped"
        members = await _members(provider, CPS[0], talosconfig)
        assert members is not None and len(members) == 3
        # a crash marker whose node shows only some members is not adopted: create waits
        sim = lab.runtime.simulators[0]
        cluster = next(iter(sim.data["clusters"].values()))
        cluster["members"].pop(CPS[2])  # as if the third had not joined yet
        assert await res.read(attrs) is None

        async def rejoin() -> None:
            sim.join_etcd(sim.nodes[CPS[2]])

        await _in_lab(lab, rejoin())
        again = await res.create(attrs, actx)  # adopts (members exist) and waits for the third
        assert again.outcome == "adopted"
        members = await _members(provider, CPS[0], talosconfig)
        assert members is not None and len(members) == 3

    asyncio.run(run())
    assert talos_status(lab)["bootstrap_calls"] == 1


def test_lab_control_planes_join_etcd_after_bootstrap(
    lab: runtime.InProcessLab,
    provider: TalosProvider,
    actx: ApplyContext,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(simulator, "ETCD_JOIN_SECONDS", 10_000.0)  # not within this test

    async def run() -> None:
        talosconfig = await _configure(provider, actx, CPS[:2])
        res = TalosBootstrap(provider)
        await res.create(res.parse({"node": CPS[0], "talosconfig": talosconfig}), actx)
        # right after Bootstrap only the bootstrapped node is a member; the other joins later
        assert await _members(provider, CPS[0], talosconfig) == [
            lab.runtime.simulators[0].nodes[CPS[0]].hostname
        ]
        assert await _members(provider, CPS[1], talosconfig) is None  # etcd not running there

    asyncio.run(run())
