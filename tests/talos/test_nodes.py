"""talos_node against simulated nodes over loopback gRPC: maintenance -> configured -> mTLS."""

from __future__ import annotations

import asyncio

import pytest

from cozyplan.lab.runtime import InProcessLab
from cozyplan.provider import ApplyContext, PermanentError, TemporaryError
from cozyplan_talos import TalosProvider, connect
from cozyplan_talos.client import TalosClient
from cozyplan_talos.resources import TalosNode
from tests.talos.conftest import talos_status
from tests.talos.helpers import rendered


def _node_attrs(address: str, cfg: object, **kw: object) -> dict[str, object]:
    return {
        "address": address,
        "machine_config": cfg.machine_config,  # type: ignore[attr-defined]
        "talosconfig": cfg.talosconfig,
        **kw,
    }  # type: ignore[attr-defined]


def test_maintenance_then_configured_with_mtls(
    lab: InProcessLab, provider: TalosProvider, actx: ApplyContext
) -> None:
    async def run() -> None:
        cfg = await rendered(provider)
        creds = connect.credentials(cfg.talosconfig or "")
        assert not await connect.configured(provider, "10.0.0.211", creds)  # maintenance
        assert talos_status(lab)["nodes"]["10.0.0.211"]["state"] == "maintenance"
        res = TalosNode(provider)
        node = await res.create(res.parse(_node_attrs("10.0.0.211", cfg)), actx)
        assert node.applied_mode == "reboot"  # first apply installs and reboots
        status = talos_status(lab)["nodes"]["10.0.0.211"]
        assert status["state"] == "configured" and status["up"] and status["reboots"] == 1
        assert await res.read(node) == node
        # now the node wants a client certificate from this cluster's CA
        async with await connect.client(provider, "10.0.0.211", None) as c:
            assert not await c.answers_without_client_cert()
        other = await rendered(provider)  # another cluster's talosconfig
        with pytest.raises(PermanentError, match="another cluster"):
            await connect.configured(
                provider, "10.0.0.211", connect.credentials(other.talosconfig or "")
            )
        # creating again adopts: same config, no reboot
        again = await res.create(res.parse(_node_attrs("10.0.0.211", cfg)), actx)
        assert again.applied_mode == "no_reboot"

    asyncio.run(run())


def test_tls_is_verified_against_the_node_address(
    lab: InProcessLab, provider: TalosProvider
) -> None:
    async def run() -> None:
        cfg = await rendered(provider)
        res = TalosNode(provider)
        await res.create(res.parse(_node_attrs("10.0.0.212", cfg)), ApplyContext("t"))
        target = lab.resolve("talos", "10.0.0.212", 50000)
        creds = connect.credentials(cfg.talosconfig or "")
        async with TalosClient(target, "10.0.0.212", creds) as ok:
            assert await ok.version() == "v1.10.6"
        # same socket, but the certificate is not for 10.0.0.99: refused
        async with TalosClient(target, "10.0.0.99", creds) as wrong:
            with pytest.raises(PermanentError, match=r"not valid for .10\.0\.0\.99"):
                await wrong.version()

    asyncio.run(run())


def test_changed_config_reapplies_only_that_node(
    lab: InProcessLab, provider: TalosProvider, actx: ApplyContext
) -> None:
    async def run() -> None:
        base = await rendered(provider)
        res = TalosNode(provider)
        a = await res.create(res.parse(_node_attrs("10.0.0.221", base)), actx)
        b = await res.create(res.parse(_node_attrs("10.0.0.222", base)), actx)
        changed = await rendered(
            provider,
            secrets_yaml=base.secrets,
            patches=[{"machine": {"network": {"hostname": "cp-a"}}}],
        )
        planned = res.parse(_node_attrs("10.0.0.221", changed))
        a2 = await res.update(a, planned, [], actx)
        assert a2.applied_mode == "no_reboot" and a2.applied_sha256 != a.applied_sha256
        # b's inputs did not change: update is a no-op towards the node
        b2 = await res.update(b, res.parse(_node_attrs("10.0.0.222", base)), [], actx)
        assert b2.applied_sha256 == b.applied_sha256
        nodes = talos_status(lab)["nodes"]
        assert nodes["10.0.0.221"]["apply_calls"] == 2
        assert nodes["10.0.0.222"]["apply_calls"] == 1
        assert nodes["10.0.0.221"]["hostname"] == "cp-a"
        # a kernel module change cannot be done in place
        kernel = await rendered(
            provider,
            secrets_yaml=base.secrets,
            patches=[{"machine": {"kernel": {"modules": [{"name": "vfio_pci"}]}}}],
        )
        with pytest.raises(PermanentError, match="require a reboot"):
            await res.update(
                a2, res.parse(_node_attrs("10.0.0.221", kernel, mode="no_reboot")), [], actx
            )
        staged = await res.update(
            a2, res.parse(_node_attrs("10.0.0.221", kernel, mode="staged")), [], actx
        )
        assert staged.applied_mode == "staged"
        assert talos_status(lab)["nodes"]["10.0.0.221"]["staged"]
        rebooted = await res.update(
            staged, res.parse(_node_attrs("10.0.0.221", kernel, mode="auto")), [], actx
        )
        assert rebooted.applied_mode == "reboot"
        assert talos_status(lab)["nodes"]["10.0.0.221"]["reboots"] == 2

    asyncio.run(run())


def test_rejected_config_is_permanent_with_the_nodes_message(
    lab: InProcessLab, provider: TalosProvider, actx: ApplyContext
) -> None:
    async def run() -> None:
        cfg = await rendered(provider)
        broken = (cfg.machine_config or "").replace("disk: /dev/sda", "disk: ''")
        res = TalosNode(provider)
        attrs = _node_attrs("10.0.0.231", cfg)
        attrs["machine_config"] = broken
        with pytest.raises(PermanentError, match="install disk or diskSelector should be defined"):
            await res.create(res.parse(attrs), actx)
        assert talos_status(lab)["nodes"]["10.0.0.231"]["state"] == "maintenance"

    asyncio.run(run())


def test_powered_off_node_is_temporary(
    lab: InProcessLab, provider: TalosProvider, actx: ApplyContext
) -> None:
    async def run() -> None:
        cfg = await rendered(provider)
        lab.resolve("talos", "10.0.0.241", 50000)
        world = lab.runtime.world
        fut = asyncio.run_coroutine_threadsafe(
            world.publish("vm.stopped", {"node": "pve", "vmid": 241, "ipv4": ["10.0.0.241"]}),
            lab.loop,
        )
        fut.result(10)
        res = TalosNode(provider)
        with pytest.raises(TemporaryError, match=r"(?s)to reboot.*or powered off"):
            await res.create(res.parse(_node_attrs("10.0.0.241", cfg)), actx)

    asyncio.run(run())


def test_vm_events_boot_and_remove_nodes(lab: InProcessLab) -> None:
    world = lab.runtime.world

    def publish(event: str, payload: dict[str, object]) -> None:
        asyncio.run_coroutine_threadsafe(world.publish(event, payload), lab.loop).result(10)

    publish(
        "vm.started",
        {
            "node": "pve",
            "vmid": 1001,
            "name": "cozy-cp1",
            "ipv4": ["10.0.0.251"],
            "image": "talos-v1.10.6-nocloud-amd64.raw",
            "tags": [],
        },
    )
    publish(
        "vm.started",
        {
            "node": "pve",
            "vmid": 1002,
            "name": "debian",
            "ipv4": ["10.0.0.252"],
            "image": "debian-12.raw",
            "tags": [],
        },
    )
    nodes = talos_status(lab)["nodes"]
    assert "10.0.0.252" not in nodes
    assert nodes["10.0.0.251"]["hostname"] == "cozy-cp1"
    for _ in range(100):
        if talos_status(lab)["nodes"]["10.0.0.251"]["up"]:
            break
        asyncio.run(asyncio.sleep(0.02))
    assert talos_status(lab)["nodes"]["10.0.0.251"]["up"]
    publish("vm.deleted", {"node": "pve", "vmid": 1001, "ipv4": ["10.0.0.251"]})
    assert "10.0.0.251" not in talos_status(lab)["nodes"]
