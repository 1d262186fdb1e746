"""Issue 3's acceptance, as a user runs it: the CLI against the lab's Proxmox VE."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from proxmoxer import ProxmoxAPI

from cozyplan.lab.runtime import InProcessLab
from tests.conftest import Project

EXAMPLE = Path(__file__).resolve().parents[2] / "specs/examples/proxmox.yaml"
SCALE = "0.02"


def behind_the_back(project: Project, fn: Any) -> None:
    """Act on the lab's Proxmox directly with proxmoxer, as an operator with qm would."""
    with InProcessLab(project.dir / ".lab", time_scale=float(SCALE)) as lab:
        settings = lab.provider_settings()["proxmox"]
        host, port = lab.resolve("proxmox", "10.0.0.1", 8006)
        user, token = settings["token_id"].split("!")
        api = ProxmoxAPI(
            host,
            port=port,
            user=user,
            token_name=token,
            token_value=settings["token_secret"],
            verify_ssl=settings["ca_file"],
            service="PVE",
        )
        fn(api)


def cli(project: Project, *args: str) -> Any:
    return project.sh(*args, "--lab", "--time-scale", SCALE, "-f", "pve.yaml", timeout=300)


def test_proxmox_spec_lifecycle_through_the_cli(project: Project) -> None:
    spec = EXAMPLE.read_text()
    (project.dir / "pve.yaml").write_text(spec)
    first = cli(project, "apply", "--auto-approve")
    assert first.returncode == 0, first.stdout + first.stderr
    assert cli(project, "plan", "--detailed-exitcode").returncode == 0

    # cores: an in-place update of the three control planes
    (project.dir / "pve.yaml").write_text(
        spec.replace(
            "    cores: 4\n    memory: 8192\n    disks:\n      - slot: scsi0",
            "    cores: 6\n    memory: 8192\n    disks:\n      - slot: scsi0",
            1,
        )
    )
    plan = cli(project, "plan", "--detailed-exitcode")
    assert plan.returncode == 2
    assert plan.stdout.count("will be updated in-place") == 3
    assert "~ cores: 4 -> 6" in plan.stdout
    assert "destroy" not in plan.stdout.split("Plan:")[1].split("to destroy")[0].replace("0", "")
    assert cli(project, "apply", "--auto-approve").returncode == 0
    assert cli(project, "plan", "--detailed-exitcode").returncode == 0

    # drift behind cozyplan's back: a VM stopped and reconfigured
    def tamper(api: ProxmoxAPI) -> None:
        api.nodes("pve").qemu(1002).status.stop.post()
        api.nodes("pve").qemu(1002).config.put(memory=2048)

    behind_the_back(project, tamper)
    refreshed = cli(project, "refresh", "--detailed-exitcode")
    assert refreshed.returncode == 2, refreshed.stdout + refreshed.stderr
    assert "proxmox_vm.cp[cp2] has changed outside cozyplan" in refreshed.stdout
    assert "memory: 8192 -> 2048" in refreshed.stdout
    assert "started: true -> false" in refreshed.stdout
    assert "cp[cp1] has changed" not in refreshed.stdout
    healed = cli(project, "apply", "--auto-approve")
    assert healed.returncode == 0, healed.stdout + healed.stderr
    assert cli(project, "refresh", "--detailed-exitcode").returncode == 0

    # the template's vmid: everything cloned from it is replaced
    current = (project.dir / "pve.yaml").read_text()
    (project.dir / "pve.yaml").write_text(current.replace("vmid: 9100", "vmid: 9101"))
    plan = cli(project, "plan", "--detailed-exitcode")
    assert plan.returncode == 2
    assert "-/+ proxmox_vm_template.talos" in plan.stdout
    assert "-/+ proxmox_vm.cp[cp1]" in plan.stdout

    # a VM removed from the spec is deleted
    (project.dir / "pve.yaml").write_text(
        spec.replace("      cp3: {vmid: 1003, ip: 10.0.0.203}\n", "")
    )
    out = cli(project, "apply", "--auto-approve")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "proxmox_vm.cp[cp3] will be destroyed" in out.stdout

    def gone(api: ProxmoxAPI) -> None:
        vmids = {vm["vmid"] for vm in api.cluster.resources.get(type="vm")}
        assert 1003 not in vmids and {1001, 1002, 9100} <= vmids

    behind_the_back(project, gone)
    assert cli(project, "plan", "--detailed-exitcode").returncode == 0


def test_faults_still_converge_without_duplicates(project: Project) -> None:
    (project.dir / "pve.yaml").write_text(EXAMPLE.read_text())
    # about 20% of requests fail: 5xx, lock timeouts, dropped connections
    up = project.sh(
        "lab",
        "up",
        "--time-scale",
        SCALE,
        "--set",
        "proxmox.error_rate=0.1",
        "--set",
        "proxmox.lock_rate=0.1",
        "--set",
        "proxmox.drop_rate=0.03",
    )
    assert up.returncode == 0, up.stderr
    try:
        out = project.sh("apply", "--lab", "--auto-approve", "-f", "pve.yaml", timeout=300)
        assert out.returncode == 0, out.stdout + out.stderr
        status = json.loads(project.sh("lab", "status", "--json").stdout)
        injected = status["simulators"]["proxmox"]["faults_injected"]
        assert sum(injected.values()) >= 3, injected  # faults were hit, and retried
    finally:
        project.sh("lab", "down")

    def one_each(api: ProxmoxAPI) -> None:
        names = [vm["name"] for vm in api.cluster.resources.get(type="vm")]
        assert sorted(names) == sorted(set(names))
        assert {"cozy-cp1", "cozy-cp2", "cozy-cp3", "cozy-worker1"} <= set(names)

    behind_the_back(project, one_each)
    assert cli(project, "plan", "--detailed-exitcode").returncode == 0


def test_import_adopts_an_existing_vm_without_replacing_it(project: Project) -> None:
    (project.dir / "pve.yaml").write_text(EXAMPLE.read_text())
    assert cli(project, "apply", "--auto-approve").returncode == 0
    forget = project.sh("state", "rm", "--lab", "-f", "pve.yaml", "proxmox_vm.cp[cp1]")
    assert forget.returncode == 0, forget.stderr
    # the VM still exists: the plan wants to create it (and create would adopt it)
    assert "proxmox_vm.cp[cp1] will be created" in cli(project, "plan").stdout
    bad = cli(project, "import", "proxmox_vm.cp[cp1]", "abc")
    assert bad.returncode == 1 and "NODE/VMID" in bad.stderr
    imported = cli(project, "import", "proxmox_vm.cp[cp1]", "pve/1001")
    assert imported.returncode == 0, imported.stdout + imported.stderr
    # clone/storage cannot be read back from Proxmox: taken from the spec, no replacement
    plan = cli(project, "plan", "--detailed-exitcode")
    assert plan.returncode == 0, plan.stdout
