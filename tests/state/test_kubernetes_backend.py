"""The Kubernetes backend against the lab's Kubernetes API (the official client, real HTTPS)."""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client, config

import cozyplan.lab.runtime as runtime
from bench.pgserver import wait_until
from cozyplan.lab.kube import KubeSimulator
from cozyplan.lab.kube.testing import start_cluster
from cozyplan.state.backend import Snapshot
from cozyplan.state.kubernetes import KubernetesBackend
from tests.conftest import Project
from tests.engine.test_crash_and_lock import chain_spec

NAMESPACE = "cozyplan"


@pytest.fixture
def kubeconfig(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A lab cluster's API server (no Talos), a namespace for the state, $KUBECONFIG set."""
    monkeypatch.setattr(runtime, "simulator_classes", lambda: [KubeSimulator])
    with runtime.InProcessLab(tmp_path / "kube-lab", time_scale=0.01) as lab:
        cluster = start_cluster(lab)
        path = tmp_path / "kubeconfig"
        path.write_text(cluster.loopback_kubeconfig)
        api = config.new_client_from_config(str(path))
        client.CoreV1Api(api).create_namespace(
            client.V1Namespace(metadata=client.V1ObjectMeta(name=NAMESPACE))
        )
        monkeypatch.setenv("KUBECONFIG", str(path))
        for name in ("COZYPLAN_STATE_ENCRYPTION", "COZYPLAN_BACKEND", "COZYPLAN_WORKSPACE"):
            monkeypatch.delenv(name, raising=False)
        yield path


def _api(kubeconfig: Path) -> Any:
    return config.new_client_from_config(str(kubeconfig))


def _secrets(kubeconfig: Path) -> dict[str, Any]:
    items = client.CoreV1Api(_api(kubeconfig)).list_namespaced_secret(NAMESPACE).items
    return {s.metadata.name: s for s in items}


def kube_spec(body: str, lease: int = 2) -> str:
    return body.replace(
        "version: 1\n", f"version: 1\nbackend: {{type: kubernetes, lease_seconds: {lease}}}\n", 1
    )


def test_chunked_snapshot_and_journal_round_trip(kubeconfig: Path) -> None:
    backend = KubernetesBackend(_api(kubeconfig), NAMESPACE, "t", "default", lease_seconds=5)
    backend.lock("test")
    big = os.urandom(1_200_000).hex()  # gzip halves hex: ~1.2 MB, three chunks
    backend.compact(Snapshot("L", 3, {"local_file.big": {"observed": {"content": big}}}))
    names = set(_secrets(kubeconfig))
    chunks = {n for n in names if n.startswith("t-snapshot-")}
    assert "t-snapshot" in names and len(chunks) == 2
    backend.append("L", 3, 4, "null_resource.a", {"observed": {"id": "x"}}, sync=False)
    backend.append("L", 3, 5, "local_file.big", None, sync=True)
    assert "t-journal-000000000004" in _secrets(kubeconfig)
    snap = backend.read()
    assert snap is not None and (snap.lineage, snap.serial) == ("L", 5)
    assert snap.resources == {"null_resource.a": {"observed": {"id": "x"}}}
    backend.compact(snap)
    after = set(_secrets(kubeconfig))
    assert not any(n.startswith(("t-snapshot-", "t-journal-")) for n in after)  # all folded
    again = backend.read()
    assert again is not None and again.resources == snap.resources and again.serial == 5
    backend.unlock()


def test_lease_refuses_a_second_run_and_expires_when_the_holder_dies(
    project: Project, kubeconfig: Path
) -> None:
    project.write(kube_spec(chain_spec(3, sleep="10")))
    first = project.spawn("apply", "--auto-approve")
    coord = client.CoordinationV1Api(_api(kubeconfig))

    def leased() -> bool:
        try:
            coord.read_namespaced_lease("cozyplan-cozyplan-lock", NAMESPACE)
            return True
        except client.exceptions.ApiException:
            return False

    wait_until(leased)
    lease = coord.read_namespaced_lease("cozyplan-cozyplan-lock", NAMESPACE)
    holder = json.loads(lease.metadata.annotations["cozyplan.io/lock"])
    assert holder["pid"] == first.pid
    second = project.sh("apply", "--auto-approve")
    assert second.returncode == 1
    assert f"pid {first.pid}" in second.stderr and holder["id"] in second.stderr
    time.sleep(3)  # the holder renews its lease while it lives
    assert project.sh("plan").returncode == 1

    first.send_signal(signal.SIGKILL)
    first.wait()
    time.sleep(2.5)  # the lease is no longer renewed and expires
    third = project.sh("apply", "--auto-approve")
    assert third.returncode == 0, third.stderr
    plan = project.sh("plan", "--detailed-exitcode")
    assert plan.returncode == 0, plan.stdout + plan.stderr
    names = set(_secrets(kubeconfig))
    assert "cozyplan-cozyplan-snapshot" in names
    assert not any("journal" in n for n in names)
    for i in range(3):
        assert (project.dir / f"out/f{i}").exists()


@pytest.mark.postgres
def test_migrate_local_postgres_kubernetes_local(
    project: Project, kubeconfig: Path, pg: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cryptography.fernet import Fernet

    monkeypatch.setenv("COZYPLAN_STATE_KEY", Fernet.generate_key().decode())
    project.write(
        "version: 1\nresources:\n  null_resource.a: {triggers: {k: v}}\n"
        "  local_file.s: {path: out/s, sensitive_content: top-secret}\n"
    )
    assert project.sh("apply", "--auto-approve").returncode == 0
    original = json.loads((project.dir / "state/cozyplan.state.json").read_text())
    steps = [
        ("state", "migrate", "--to", "postgres"),
        ("state", "migrate", "--backend-config", "type=postgres", "--to", "kubernetes"),
        ("state", "migrate", "--backend-config", "type=kubernetes", "--to", "local",
         "--to-state", "state/back.json"),
    ]  # fmt: skip
    for argv in steps:
        moved = project.sh(*argv)
        assert moved.returncode == 0, moved.stderr
    on_kube = project.sh("plan", "--detailed-exitcode", "--backend-config", "type=kubernetes")
    assert on_kube.returncode == 0, on_kube.stdout + on_kube.stderr
    back = json.loads((project.dir / "state/back.json").read_text())
    assert (back["lineage"], back["serial"]) == (original["lineage"], original["serial"])
    dump = lambda doc: json.dumps(doc["resources"], separators=(",", ":"))  # noqa: E731
    assert dump(back) == dump(original)


def test_workspaces_and_whole_state_encryption_on_kubernetes(
    project: Project, kubeconfig: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import base64

    monkeypatch.setenv("STATE_KEY", base64.b64encode(os.urandom(32)).decode())
    monkeypatch.setenv("COZYPLAN_STATE_ENCRYPTION", "key-env:STATE_KEY")
    project.write(kube_spec("version: 1\nresources:\n  null_resource.alpha: {triggers: {k: v}}\n"))
    assert project.sh("apply", "--auto-approve").returncode == 0
    assert project.sh("workspace", "new", "staging").returncode == 0
    staged = project.sh("apply", "--auto-approve")
    assert staged.returncode == 0, staged.stderr
    secrets = _secrets(kubeconfig)
    assert {"cozyplan-cozyplan-snapshot", "cozyplan-cozyplan--staging-snapshot"} <= set(secrets)
    blob = base64.b64decode(secrets["cozyplan-cozyplan--staging-snapshot"].data["chunk"])
    assert blob.startswith(b'{"cozyplan-encrypted"')
    assert project.sh("workspace", "list").stdout == "  default\n* staging\n"
    monkeypatch.setenv("STATE_KEY", base64.b64encode(os.urandom(32)).decode())
    wrong = project.sh("plan")
    assert wrong.returncode == 1 and "wrong key from key-env:STATE_KEY" in wrong.stderr
