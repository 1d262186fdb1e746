"""The lab Talos is as strict as a real node on Proxmox: the booted image's extensions, CPU type
kvm64, no cloud-init drive, two labs on one host, hostile addresses."""

from __future__ import annotations

import asyncio
import socket
import time
from pathlib import Path
from typing import Any

import pytest

import cozyplan.lab.runtime as runtime
from cozyplan.lab.framework import LabError
from cozyplan.lab.talos import TalosSimulator
from cozyplan.lab.talos.node import BOOT_SECONDS
from cozyplan.provider import ApplyContext, ProviderContext, TemporaryError
from cozyplan_talos import TalosConfig, TalosProvider, schematic
from cozyplan_talos.resources import TalosNode
from tests.talos.conftest import TIME_SCALE, talos_status
from tests.talos.helpers import rendered

COZY_ID = schematic.cozystack_schematic().id


def _started(lab: runtime.InProcessLab, **payload: Any) -> None:
    """What the lab's Proxmox publishes when a VM starts."""
    lab._call(lab.runtime.world.publish("vm.started", {"node": "pve", **payload}))


def _booted(lab: runtime.InProcessLab, ip: str) -> None:
    """Wait out the VM's power-on (scaled); the node is up then, unless it never comes up."""
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        node = talos_status(lab)["nodes"].get(ip, {})
        if node.get("up") or node.get("fault"):
            break
        time.sleep(0.02)
    time.sleep(BOOT_SECONDS * TIME_SCALE * 2)


def _apply(provider: TalosProvider, ip: str) -> None:
    async def run() -> None:
        cfg = await rendered(provider)
        node = TalosNode(provider)
        await node.create(
            node.parse(
                {
                    "address": ip,
                    "machine_config": cfg.machine_config,
                    "talosconfig": cfg.talosconfig,
                }
            ),
            ApplyContext("test"),
        )

    asyncio.run(run())


@pytest.mark.parametrize(
    ("image", "errors"),
    [
        (f"talos-v1.10.6-{schematic.VANILLA_ID}-nocloud-amd64.qcow2", ["drbd", "zfs", "spl"]),
        (f"talos-v1.10.6-{COZY_ID}-nocloud-amd64.qcow2", []),
    ],
)
def test_node_runs_the_extensions_of_the_image_it_booted(
    lab: runtime.InProcessLab, provider: TalosProvider, image: str, errors: list[str]
) -> None:
    _started(lab, vmid=1001, name="cp1", image=image, ipv4=["10.0.0.241"], cpu="host")
    _booted(lab, "10.0.0.241")
    _apply(provider, "10.0.0.241")  # CozyStack's config: drbd, zfs, spl modules
    status = talos_status(lab)
    node = status["nodes"]["10.0.0.241"]
    assert ("siderolabs/drbd" in node["extensions"]) is (not errors)
    # the config's install image (CozyStack's, with drbd/zfs) never ran on the booted disk
    assert node["install"].startswith("skipped (booted disk image)")
    expected = [f'10.0.0.241: error loading module "{m}": module not found' for m in errors]
    assert status["messages"] == expected


def test_kvm64_vm_never_brings_talos_up(lab: runtime.InProcessLab, provider: TalosProvider) -> None:
    image = f"talos-v1.10.6-{COZY_ID}-nocloud-amd64.qcow2"
    _started(lab, vmid=1002, name="cp2", image=image, ipv4=["10.0.0.242"], cpu="kvm64")
    _booted(lab, "10.0.0.242")
    with pytest.raises(TemporaryError, match="nothing listens on its Talos API"):
        _apply(provider, "10.0.0.242")
    status = talos_status(lab)
    assert status["nodes"]["10.0.0.242"]["up"] is False
    assert any("CPU type kvm64" in m for m in status["messages"])


def test_vm_without_cloud_init_drive_gets_no_address(
    lab: runtime.InProcessLab, provider: TalosProvider
) -> None:
    image = f"talos-v1.10.6-{COZY_ID}-nocloud-amd64.qcow2"
    _started(lab, vmid=1003, name="cp3", image=image, cpu="host", cloudinit=False)
    # the address ipconfig0 would have given: nobody answers there (no node on demand either)
    with pytest.raises(LabError, match=r"nothing in the lab plays talos at 10\.0\.0\.243"):
        lab.resolve("talos", "10.0.0.243", 50000)
    with pytest.raises(TemporaryError, match=r"cannot resolve Talos API of 10\.0\.0\.243"):
        _apply(provider, "10.0.0.243")
    assert any("without a cloud-init drive" in m for m in talos_status(lab)["messages"])


def test_hostile_address_never_becomes_a_path(lab: runtime.InProcessLab, tmp_path: Path) -> None:
    before = sorted(p.name for p in tmp_path.iterdir())
    with pytest.raises(LabError, match="not an IP address or host name"):
        lab.resolve("talos", "../../x", 50000)
    assert sorted(p.name for p in tmp_path.iterdir()) == before
    assert not (lab.runtime.dir.parent / "x").exists()


def test_two_labs_never_reach_each_others_nodes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(runtime, "simulator_classes", lambda: [TalosSimulator])
    with (
        runtime.InProcessLab(tmp_path / "a", time_scale=TIME_SCALE) as a,
        runtime.InProcessLab(tmp_path / "b", time_scale=TIME_SCALE) as b,
    ):
        a_end = a.resolve("talos", "10.0.0.244", 50000)  # lab A's node, up
        # lab B's VM with the same address is still booting: what B hands out must be B's own
        image = f"talos-v1.10.6-{COZY_ID}-nocloud-amd64.qcow2"
        _started(b, vmid=1004, name="cp4", image=image, ipv4=["10.0.0.244"], cpu="host")
        b_end = b.resolve("talos", "10.0.0.244", 50000)
        assert b_end != a_end
        with pytest.raises(ConnectionRefusedError):  # bound, not yet listening: refused
            socket.create_connection(b_end, timeout=2).close()
        # once B's node is up, B's provider configures B's node, never A's
        _booted(b, "10.0.0.244")
        ctx = ProviderContext(base_dir=tmp_path, resolve_endpoint=b.resolve, time_scale=TIME_SCALE)
        _apply(TalosProvider(TalosConfig(poll_interval=5), ctx), "10.0.0.244")
        assert talos_status(b)["nodes"]["10.0.0.244"]["state"] == "configured"
        assert talos_status(a)["nodes"]["10.0.0.244"]["state"] == "maintenance"
