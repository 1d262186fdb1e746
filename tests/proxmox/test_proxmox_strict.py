"""The lab Proxmox refuses what a real Proxmox VE refuses, in its words (issue 11).

Each test drives the simulator with proxmoxer, as any client would, and fails against the
lenient simulator it replaces.
"""

from __future__ import annotations

from typing import Any

import pytest
from proxmoxer.core import ResourceException
from test_proxmox_simulator import api, wait

from cozyplan.lab.runtime import InProcessLab


def _image(pve: Any) -> None:
    wait(
        pve,
        pve.nodes("pve")
        .storage("local")("download-url")
        .post(
            url="https://factory.talos.dev/image/x/v1.10.6/nocloud-amd64.qcow2",
            content="import",
            filename="talos-v1.10.6.qcow2",
        ),
    )


def _template(pve: Any, vmid: int = 9000, **more: Any) -> None:
    _image(pve)
    wait(
        pve,
        pve.nodes("pve").qemu.post(
            vmid=vmid,
            name="tpl",
            scsi0="local-lvm:0,import-from=local:import/talos-v1.10.6.qcow2",
            net0="virtio,bridge=vmbr0",
            **more,
        ),
    )
    wait(pve, pve.nodes("pve").qemu(vmid).template.post())


def _started(lab: InProcessLab) -> list[dict[str, Any]]:
    seen: list[dict[str, Any]] = []
    lab.runtime.world.subscribe("vm.started", lambda event, payload: seen.append(payload))
    return seen


def test_started_event_says_cpu_and_cloudinit(lab: InProcessLab) -> None:
    """The contract with the lab Talos: the effective CPU type and the cloud-init drive."""
    started = _started(lab)
    pve = api(lab)
    _template(pve)
    wait(pve, pve.nodes("pve").qemu(9000).clone.post(newid=101, name="plain", full=1))
    pve.nodes("pve").qemu(101).config.put(ipconfig0="ip=10.0.0.201/24,gw=10.0.0.1")
    wait(pve, pve.nodes("pve").qemu(101).status.start.post())
    # ipconfig0 without a cloud-init drive never reaches the guest: no address at all
    assert started[-1]["cpu"] == "kvm64" and started[-1]["cloudinit"] is False
    assert started[-1]["ipv4"] == []

    wait(pve, pve.nodes("pve").qemu(9000).clone.post(newid=102, name="ci", full=1))
    pve.nodes("pve").qemu(102).config.put(
        cpu="host", ide2="local-lvm:cloudinit", ipconfig0="ip=10.0.0.202/24,gw=10.0.0.1"
    )
    config = pve.nodes("pve").qemu(102).config.get()
    assert config["ide2"] == "local-lvm:vm-102-cloudinit,media=cdrom"
    wait(pve, pve.nodes("pve").qemu(102).status.start.post())
    assert started[-1]["cpu"] == "host" and started[-1]["cloudinit"] is True
    assert started[-1]["ipv4"] == ["10.0.0.202"]


def test_one_cloudinit_drive_per_vm_and_clones_get_their_own(lab: InProcessLab) -> None:
    pve = api(lab)
    _template(pve, ide2="local-lvm:cloudinit", cpu="cputype=host,flags=+aes")
    with pytest.raises(ResourceException) as exc:
        pve.nodes("pve").qemu(9000).config.put(ide0="local-lvm:cloudinit")
    assert "ide0 - cloud-init drive is already attached at 'ide2'" in str(exc.value)
    wait(pve, pve.nodes("pve").qemu(9000).clone.post(newid=103, name="c", full=1))
    assert pve.nodes("pve").qemu(103).config.get()["ide2"].startswith("local-lvm:vm-103-cloudinit,")
    started = _started(lab)
    wait(pve, pve.nodes("pve").qemu(103).status.start.post())
    assert started[-1]["cpu"] == "host" and started[-1]["cloudinit"] is True
