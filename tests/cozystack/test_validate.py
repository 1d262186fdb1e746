"""``cozyplan validate`` on a spec written the runbook's way: each mistake, file:line and fix."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from cozyplan.errors import SpecError
from cozyplan.spec.config import load_config

HEAD = """\
version: 1
variables:
  endpoint: {default: "https://10.0.0.201:6443"}
providers:
  cozystack: {kubeconfig_path: kubeconfig}
resources:
  talos_machine_config.cp:
    for_each: {cp1: 10.0.0.201}
    cluster_name: cozy-new
    endpoint: "${var.endpoint}"
    secrets: "x"
  proxmox_vm.cp:
    for_each:
      cp1: {vmid: 1001, ip: 10.0.0.201}
    node: pve
    vmid: "${each.value.vmid}"
    name: "cp-${each.key}"
    clone: 9100
    ipconfig0: "ip=${each.value.ip}/24,gw=10.0.0.1"
    ipv4_addresses: ["${each.value.ip}"]
"""

RUNBOOK = (
    HEAD
    + """\
  cozystack_platform.main:
    version: v0.37.2
    config:
      bundle: paas-proxmox
      cluster-domain: cozy-new.local
      root-host: cozy-new.example.com
      ipv4-pod-cidr: 10.244.0.0/16
      ipv4-pod-gateway: 10.244.0.1
      ipv4-svc-cidr: 10.96.0.0/12
      ipv4-join-cidr: 100.64.0.0/16
      api-server-endpoint: https://10.0.0.200:6443
      telemetry-enabled: "false"
  cozystack_networking.lb:
    addresses: [10.0.0.200-10.0.0.210]
  k8s_manifest.capmox_cluster:
    manifest:
      apiVersion: infrastructure.cluster.x-k8s.io/v1alpha1
      kind: ProxmoxCluster
      metadata: {name: cozy-new, namespace: default}
      spec:
        ipv4Config: {addresses: [10.0.0.205-10.0.0.250], gateway: 10.0.0.1, prefix: 24}
  cozystack_app.db:
    kind: Postgres
    name: test-db
    namespace: tenant-test
    spec: {replicas: 2, storage: 10Gi}
  cozystack_app.k8s:
    kind: Kubernetes
    name: test-tenant
    namespace: tenant-test
    spec:
      replicas: 3
      nodeGroups:
        - {name: md0, minReplicas: 1}
"""
)


def diagnostics(tmp_path: Path, text: str) -> list[str]:
    path = tmp_path / "spec.yaml"
    path.write_text(textwrap.dedent(text))
    with pytest.raises(SpecError) as err:
        load_config(path)
    return [str(d) for d in err.value.diagnostics]


def line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


def find(diags: list[str], *words: str) -> str:
    hits = [d for d in diags if all(w in d for w in words)]
    assert hits, f"no diagnostic with {words} in:\n" + "\n".join(diags)
    return hits[0]


def test_runbook_mistakes_each_reported_with_line_and_fix(tmp_path: Path) -> None:
    diags = diagnostics(tmp_path, RUNBOOK)
    at = lambda needle: f"spec.yaml:{line_of(RUNBOOK, needle)}:"  # noqa: E731

    bundle = find(diags, "unknown ConfigMap key 'bundle'")
    assert at("bundle: paas-proxmox") in bundle and "the key is `bundle-name`" in bundle
    assert not [d for d in diags if "'bundle-name' is required" in d]  # said once, above
    value = find(diags, "cozystack_platform.main.config.bundle:", "exists only on a development")
    assert at("bundle: paas-proxmox") in value and "paas-full" in value
    domain = find(diags, "cluster-domain 'cozy-new.local' differs from the Talos dnsDomain")
    assert (
        at("cluster-domain: cozy-new.local") in domain
        and "set cluster-domain: cozy.local" in domain
    )
    svc = find(diags, "ipv4-svc-cidr 10.96.0.0/12 differs")
    assert at("ipv4-svc-cidr") in svc and "set ipv4-svc-cidr: 10.96.0.0/16" in svc
    assert not [d for d in diags if "ipv4-pod-cidr" in d and "differs" in d]
    endpoint = find(diags, "api-server-endpoint https://10.0.0.200:6443 differs")
    assert "https://10.0.0.201:6443" in endpoint  # the variable's value, resolved
    node = find(diags, "contains the node address", "10.0.0.201")
    assert at("addresses: [10.0.0.200-10.0.0.210]") in node
    capi = find(diags, "overlaps 10.0.0.205-10.0.0.250", "k8s_manifest.capmox_cluster")
    assert "cozystack_networking.lb.addresses[0]" in capi
    storage = find(diags, "unknown field 'storage'")
    assert (
        "cozystack_app.db.spec.storage" in storage and at("spec: {replicas: 2, storage") in storage
    )
    assert "did you mean 'size'?" in storage
    replicas = find(diags, "cozystack_app.k8s.spec.replicas", "unknown field 'replicas'")
    assert at("replicas: 3") in replicas and "controlPlane.replicas" in replicas
    groups = find(diags, "nodeGroups is a map keyed by name")
    assert at("nodeGroups:") in groups


def test_bundle_name_paas_proxmox_lists_the_real_bundles(tmp_path: Path) -> None:
    text = (
        HEAD
        + """\
  cozystack_platform.main:
    config:
      bundle-name: paas-proxmox
      root-host: example.org
      api-server-endpoint: "${var.endpoint}"
"""
    )
    diags = diagnostics(tmp_path, text)
    msg = find(diags, "paas-proxmox")
    assert f"spec.yaml:{line_of(text, 'bundle-name: paas-proxmox')}:" in msg
    assert "distro-full, distro-hosted, paas-full, paas-hosted" in msg
    assert len(diags) == 1, diags


def test_required_keys_bundle_members_and_versions(tmp_path: Path) -> None:
    text = (
        HEAD
        + """\
  cozystack_platform.main:
    version: v0.36.0
    config: {bundle-name: paas-full}
  cozystack_platform.other:
    config:
      bundle-name: paas-full
      api-server-endpoint: "${var.endpoint}"
      bundle-enable: [nfs-driver, cilium, nope]
      bundle-disable: [nope2]
      values-cilium: {cilium: {debug: true}}
      values-nothing: {a: 1}
"""
    )
    diags = diagnostics(tmp_path, text)
    find(diags, "unknown CozyStack version 'v0.36.0' (known: v0.37.2)")
    find(
        diags, "cozystack_platform.other.config", "'root-host' is required", "ERROR need root-host"
    )
    find(diags, "'cilium' is installed by default in paas-full")
    find(diags, "bundle-enable[2]", "'nope' is not a release of bundle paas-full")
    find(diags, "'nope2' is not a release")
    find(diags, "config.values-nothing", "no release 'nothing'")
    assert not [d for d in diags if "'nfs-driver' is" in d or "config.values-cilium" in d]


def test_correct_spec_validates(tmp_path: Path) -> None:
    text = (
        HEAD
        + """\
  cozystack_platform.main:
    config:
      bundle-name: paas-full
      root-host: example.org
      api-server-endpoint: "${var.endpoint}"
      ipv4-pod-cidr: 10.244.0.0/16
      ipv4-svc-cidr: 10.96.0.0/16
      telemetry-enabled: "false"
  cozystack_networking.lb:
    addresses: [10.0.0.150-10.0.0.160]
  cozystack_app.db:
    kind: Postgres
    name: db
    namespace: tenant-test
    spec: {replicas: 2, size: 10Gi}
"""
    )
    path = tmp_path / "ok.yaml"
    path.write_text(text)
    load_config(path)


def test_the_example_spec_validates() -> None:
    root = Path(__file__).resolve().parents[2]
    load_config(root / "specs" / "examples" / "cozystack-platform.yaml")


def test_storage_on_a_vm_without_the_data_disk(tmp_path: Path) -> None:
    text = (
        HEAD
        + """\
  cozystack_storage.linstor:
    nodes:
      cp1: {disks: "${proxmox_vm.cp[cp1].disks}"}
    data_disk: scsi1
"""
    )
    text = text.replace(
        '    ipv4_addresses: ["${each.value.ip}"]\n',
        '    ipv4_addresses: ["${each.value.ip}"]\n'
        "    disks: [{slot: scsi0, storage: local-lvm, size: 50G}]\n",
    )
    diags = diagnostics(tmp_path, text)
    msg = find(diags, "cozystack_storage.linstor.nodes.cp1.disks", "has no disk scsi1")
    assert "proxmox_vm.cp has no disk scsi1 (its disks: scsi0)" in msg
    assert f"spec.yaml:{line_of(text, 'cp1: {disks:')}:" in msg
    ok = text.replace(
        "[{slot: scsi0, storage: local-lvm, size: 50G}]",
        "[{slot: scsi0, storage: local-lvm, size: 50G},"
        " {slot: scsi1, storage: local-lvm, size: 100G}]",
    )
    path = tmp_path / "ok.yaml"
    path.write_text(ok)
    load_config(path)
