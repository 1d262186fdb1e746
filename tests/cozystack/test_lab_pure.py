"""The lab CozyStack's pure parts: Flux's Ready decisions, the devices a lab VM has."""

from __future__ import annotations

from typing import Any

from cozyplan.lab.cozystack import crds, flux
from cozyplan.lab.cozystack.disks import find_vm, guest_devices
from cozyplan.upstream.cozystack import release


def hr(name: str, ns: str, deps: list[str], ready: bool | None = None) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "metadata": {"name": name, "namespace": ns, "generation": 1},
        "spec": {
            "releaseName": name,
            "chart": {"spec": {"chart": f"cozy-{name}"}},
            "dependsOn": [{"name": d.split("/")[1], "namespace": d.split("/")[0]} for d in deps],
        },
    }
    if ready is not None:
        obj["status"] = {
            "observedGeneration": 1,
            "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
        }
    return obj


def test_flux_waits_for_dependencies_with_its_message() -> None:
    cilium = hr("cilium", "cozy-cilium", [])
    kubeovn = hr("kubeovn", "cozy-kubeovn", ["cozy-cilium/cilium"])
    releases = {flux.key_of(o): o for o in (cilium, kubeovn)}
    d = flux.decide(kubeovn, releases, None, False)
    assert (d.status, d.reason) == ("False", "DependencyNotReady")
    assert d.message == "dependency 'cozy-cilium/cilium' is not ready"
    missing = hr("x", "ns", ["ns/nope"])
    assert (
        "unable to get 'ns/nope' dependency" in flux.decide(missing, releases, None, False).message
    )
    first = flux.decide(cilium, releases, None, False)
    assert (first.status, first.reason, first.installable) == ("Unknown", "Progressing", True)
    assert flux.decide(cilium, releases, None, True).reason == "InstallSucceeded"
    failed = flux.decide(cilium, releases, "timed out", False)
    assert (failed.status, failed.reason) == ("False", "InstallFailed")
    assert failed.message == (
        "Helm install failed for release cozy-cilium/cilium with chart cozy-cilium: timed out"
    )


def test_ready_needs_the_current_generation() -> None:
    obj = hr("a", "ns", [], ready=True)
    assert flux.is_ready(obj)
    obj["metadata"]["generation"] = 2
    assert not flux.is_ready(obj)


def test_guest_devices_follow_the_vm_disks() -> None:
    config = {
        "scsi0": "local-lvm:vm-1001-disk-0,size=50G",
        "scsi1": "local-lvm:vm-1001-disk-1,size=100G",
        "ide2": "local-lvm:vm-1001-cloudinit,media=cdrom",
        "virtio0": "local-lvm:vm-1001-disk-2",
        "ipconfig0": "ip=10.0.0.201/24,gw=10.0.0.1",
        "name": "cozy-new-cp1",
    }
    assert guest_devices(config) == {
        "/dev/sda": "scsi0",
        "/dev/sdb": "scsi1",
        "/dev/vda": "virtio0",
    }
    vms = {"1001": {"config": config}, "9100": {"config": {**config, "template": 1}}}
    assert find_vm(vms, "whatever", "10.0.0.201") is vms["1001"]
    assert find_vm(vms, "cozy-new-cp1", None) is vms["1001"]
    assert find_vm(vms, "other", "10.0.0.9") is None


def test_app_crds_carry_the_real_schema() -> None:
    objs = {o["spec"]["names"]["kind"]: o for o in crds.apps(release("v0.37.2").app_definitions())}
    pg = objs["Postgres"]
    assert pg["metadata"]["name"] == "postgreses.apps.cozystack.io"
    spec = pg["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
    assert spec["properties"]["size"]["default"] == "10Gi"
    assert "title" not in spec
