"""The simulator as proxmoxer sees it: auth, envelope, errors, UPIDs, locks, agent, events."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import pytest
from proxmoxer import ProxmoxAPI
from proxmoxer.core import ResourceException

import cozyplan.lab.runtime as runtime
from cozyplan.lab.proxmox import ProxmoxSimulator
from cozyplan.lab.runtime import InProcessLab

UPID_RE = re.compile(r"^UPID:pve:[0-9A-F]{8}:[0-9A-F]{8}:[0-9A-F]{8}:\w+:[^:]*:[^:]+:$")


def api(lab: InProcessLab, secret: str | None = None) -> Any:
    s = lab.provider_settings()["proxmox"]
    host, port = lab.resolve("proxmox", "10.0.0.1", 8006)
    user, token = s["token_id"].split("!")
    return ProxmoxAPI(
        host,
        port=port,
        user=user,
        token_name=token,
        token_value=secret or s["token_secret"],
        verify_ssl=s["ca_file"],
    )


def wait(pve: Any, upid: str) -> dict[str, Any]:
    assert UPID_RE.match(upid), upid
    for _ in range(500):
        status: dict[str, Any] = pve.nodes("pve").tasks(upid).status.get()
        if status["status"] == "stopped":
            return status
        time.sleep(0.01)
    raise AssertionError("task did not finish")


@pytest.fixture
def lab_options() -> dict[str, Any]:
    return {"latency": {"linked_clone": 60.0, "lock_timeout": 2.0}}


def _seed(pve: Any) -> None:
    wait(
        pve,
        pve.nodes("pve")
        .storage("local")("download-url")
        .post(url="https://example.org/debian.qcow2", content="import", filename="debian.qcow2"),
    )
    wait(
        pve,
        pve.nodes("pve").qemu.post(
            vmid=9000,
            name="base",
            scsi0="local-lvm:0,import-from=local:import/debian.qcow2",
            net0="virtio,bridge=vmbr0",
            agent=1,
        ),
    )
    wait(pve, pve.nodes("pve").qemu(9000).template.post())


def test_auth_envelope_and_errors(lab: InProcessLab) -> None:
    pve = api(lab)
    assert pve.version.get()["release"] == "8.4"
    with pytest.raises(ResourceException) as exc:
        api(lab, secret="00000000-0000-0000-0000-000000000000").version.get()
    assert exc.value.status_code == 401
    with pytest.raises(ResourceException) as exc:
        pve.nodes("pve").qemu(4242).config.get()
    assert (
        exc.value.content == "Configuration file 'nodes/pve/qemu-server/4242.conf' does not exist"
    )
    with pytest.raises(ResourceException) as exc:
        pve.nodes("pve").storage("local")("download-url").post(
            url="https://x/a.raw.xz", content="import", filename="a.raw", compression="xz"
        )
    assert exc.value.status_code == 400 and "compression" in exc.value.errors
    assert pve.cluster.nextid.get() == "100"


def test_locks_clone_defaults_and_duplicates(lab: InProcessLab) -> None:
    pve = api(lab)
    _seed(pve)
    linked = pve.nodes("pve").qemu(9000).clone.post(newid=101, name="linked")
    cfg = pve.nodes("pve").qemu(101).config.get()
    assert cfg["lock"] == "clone"
    with pytest.raises(ResourceException) as exc:
        pve.nodes("pve").qemu(101).config.put(cores=4)
    assert (
        exc.value.content == "can't lock file '/var/lock/qemu-server/lock-101.conf' - got timeout"
    )
    with pytest.raises(ResourceException) as exc:
        pve.nodes("pve").qemu.post(vmid=101, name="dup")
    assert "VM 101 already exists on node 'pve'" in exc.value.content
    assert wait(pve, linked)["exitstatus"] == "OK"
    # full defaults to linked for templates: the disk is a child of the base volume
    assert "base-9000-disk-0/vm-101-disk-0" in pve.nodes("pve").qemu(101).config.get()["scsi0"]
    vms = {v["vmid"]: v for v in pve.cluster.resources.get(type="vm")}
    assert vms[9000]["template"] == 1 and vms[101]["name"] == "linked"
    failed = wait(pve, pve.nodes("pve").qemu(9000).delete())
    assert "still in use by linked cloned" in failed["exitstatus"]


def test_agent_and_events(lab: InProcessLab) -> None:
    events: list[tuple[str, dict[str, Any]]] = []
    world = lab.runtime.world
    for name in ("vm.started", "vm.stopped", "vm.deleted"):
        world.subscribe(name, lambda event, payload: events.append((event, payload)))
    pve = api(lab)
    _seed(pve)
    lab.runtime.world.options["proxmox"] = {"latency": {"agent_boot": 5.0}}
    wait(pve, pve.nodes("pve").qemu(9000).clone.post(newid=150, name="web", full=1))
    with pytest.raises(ResourceException, match="VM 150 is not running"):
        pve.nodes("pve").qemu(150).agent("network-get-interfaces").get()
    wait(pve, pve.nodes("pve").qemu(150).status.start.post())
    assert events[-1] == (
        "vm.started",
        {
            "node": "pve",
            "vmid": 150,
            "name": "web",
            "ipv4": ["10.0.0.150"],
            "image": "debian.qcow2",
            "tags": [],
            "cpu": "kvm64",
            "cloudinit": False,
        },
    )
    time.sleep(0.1)
    reply = pve.nodes("pve").qemu(150).agent("network-get-interfaces").get()
    addrs = [a["ip-address"] for i in reply["result"] for a in i["ip-addresses"]]
    assert "10.0.0.150" in addrs and any(a.startswith("169.254.") for a in addrs)
    failed = wait(pve, pve.nodes("pve").qemu(150).delete())
    assert failed["exitstatus"] == "VM 150 is running - destroy failed"
    wait(pve, pve.nodes("pve").qemu(150).status.stop.post())
    wait(pve, pve.nodes("pve").qemu(150).delete())
    assert [e for e, _ in events] == ["vm.started", "vm.stopped", "vm.deleted"]


def test_world_persists_across_restart(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runtime, "simulator_classes", lambda: [ProxmoxSimulator])
    with InProcessLab(tmp_path, time_scale=0.01) as lab:
        pve = api(lab)
        _seed(pve)
        secret = lab.provider_settings()["proxmox"]["token_secret"]
    with InProcessLab(tmp_path, time_scale=0.01) as lab:
        assert lab.provider_settings()["proxmox"]["token_secret"] == secret
        vms = api(lab).cluster.resources.get(type="vm")
        assert [v["vmid"] for v in vms] == [9000]
        counts = lab.status()["simulators"]["proxmox"]["requests"]
        assert counts["GET /cluster/resources"] == 1
