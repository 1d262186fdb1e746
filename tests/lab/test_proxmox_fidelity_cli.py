"""Issue 11 as a user meets it on the lab's Proxmox VE: drift on a running VM healed with a
reboot, ownership between two states, and spec mistakes refused in Proxmox's words."""

from __future__ import annotations

import time
from typing import Any

from tests.conftest import Project
from tests.lab.test_proxmox_cli import EXAMPLE, behind_the_back, cli


def _apply(project: Project, *more: str) -> None:
    done = cli(project, "apply", "--auto-approve", *more)
    assert done.returncode == 0, done.stdout + done.stderr


def test_memory_changed_behind_a_running_vm_is_healed_with_a_reboot(project: Project) -> None:
    (project.dir / "pve.yaml").write_text(EXAMPLE.read_text())
    _apply(project)

    def resize_and_reboot(api: Any) -> None:
        vm = api.nodes("pve").qemu(1001)
        vm.config.put(memory=4096)
        assert vm.config.get(current=1)["memory"] == 8192  # running: pending until reboot
        upid = vm.status.reboot.post()
        while api.nodes("pve").tasks(upid).status.get()["status"] != "stopped":
            time.sleep(0.01)

    behind_the_back(project, resize_and_reboot)
    plan = cli(project, "plan", "--detailed-exitcode")
    assert plan.returncode == 2, plan.stdout + plan.stderr
    assert "~ memory: 4096 -> 8192" in plan.stdout
    assert "requires reboot: memory: the running VM takes the new value only on a reboot" in (
        plan.stdout + plan.stderr
    )
    applied = cli(project, "apply", "--auto-approve")
    assert applied.returncode == 0, applied.stdout + applied.stderr
    assert "rebooting to apply memory" in applied.stdout

    def runs_with_spec_memory(api: Any) -> None:
        vm = api.nodes("pve").qemu(1001)
        assert vm.config.get(current=1)["memory"] == 8192
        assert [e["key"] for e in vm.pending.get() if "pending" in e or "delete" in e] == []

    behind_the_back(project, runs_with_spec_memory)
    assert cli(project, "plan", "--detailed-exitcode").returncode == 0

    # reboot: never leaves a change pending, and every plan says so
    spec = EXAMPLE.read_text().replace(
        "    started: true\n", "    started: true\n    reboot: never\n", 1
    )
    (project.dir / "pve.yaml").write_text(spec.replace("memory: 8192", "memory: 12288", 1))
    _apply(project)
    plan = cli(project, "plan", "--detailed-exitcode")
    assert plan.returncode == 0, plan.stdout + plan.stderr
    assert "memory of the running VM wait for its next reboot" in plan.stdout + plan.stderr


def test_another_states_objects_are_never_taken_over_silently(project: Project) -> None:
    (project.dir / "pve.yaml").write_text(EXAMPLE.read_text())
    _apply(project)
    other = ("--state", ".lab/state/other.state.json")  # a second deployment, new lineage
    refused = cli(project, "plan", *other)
    assert refused.returncode == 1
    out = refused.stdout + refused.stderr
    assert "VM 1001 (cozy-cp1) already exists and belongs to the state with lineage" in out
    assert "API token capmox@pve!capi already exists and belongs to" in out
    assert "--adopt proxmox_vm.cp[cp1]" in out or "--adopt ADDR" in out
    takeover = (
        *other,
        "--adopt",
        "proxmox_vm_template.talos",
        "--adopt",
        "proxmox_vm.cp",
        "--replace",
        "proxmox_api_token.capmox",
    )
    plan = cli(project, "plan", *takeover)
    assert plan.returncode == 0, plan.stdout + plan.stderr
    text = plan.stdout + plan.stderr
    assert "adopts VM 1001 (cozy-cp1), which belongs to the state with lineage" in text
    assert "regenerates the secret of API token capmox@pve!capi" in text
    _apply(project, *takeover)
    assert cli(project, "plan", "--detailed-exitcode", *other).returncode == 0


def test_spec_mistakes_fail_with_proxmoxs_words(project: Project) -> None:
    spec = EXAMPLE.read_text()
    compressed = spec.replace(
        "    filename: talos-v1.10.6-nocloud-amd64.qcow2\n",
        "    filename: talos-v1.10.6-nocloud-amd64.raw\n    compression: zst\n",
    )
    assert compressed != spec
    (project.dir / "pve.yaml").write_text(compressed)
    refused = project.sh("validate", "-f", "pve.yaml")
    assert refused.returncode == 1
    assert "decompression not supported for import" in refused.stdout + refused.stderr

    kvm64 = spec.replace(
        "    cores: 2\n    memory: 4096\n", "    cores: 2\n    memory: 4096\n    cpu: kvm64\n"
    )
    no_drive = kvm64.replace(
        '    ipconfig0: "ip=${each.value.ip}/24,gw=10.0.0.1"',
        '    ipconfig0: "ip=${each.value.ip}/24,gw=10.0.0.1"\n    cloudinit: false',
    )
    old_acl = no_drive.replace(
        "      - {path: /, roles: [PVEVMAdmin, PVEAuditor]}\n",
        "      - {path: /, roles: [PVEVMAdmin, PVEDatastoreUser, PVEAuditor]}\n",
    )
    old_acl = "\n".join(
        line for line in old_acl.splitlines() if "/storage," not in line and "/sdn/" not in line
    )
    (project.dir / "pve.yaml").write_text(old_acl + "\n")
    plan = cli(project, "plan")
    text = plan.stdout + plan.stderr
    assert "Permission check failed (/sdn/zones/localnetwork/vmbr0, SDN.Use)" in text
    assert "PVEDatastoreUser has only AllocateSpace and Audit" in text
    assert "Talos needs x86-64-v2 and does not boot on kvm64" in text
    assert "the guest gets no address from them" in text
