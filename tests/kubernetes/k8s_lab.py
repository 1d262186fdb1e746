"""The shared lab cluster of the kubernetes tests: a bootstrapped one-node Talos cluster.

Every command runs the real CLI in a subprocess against the lab (``--lab --lab-dir``); the tests
act as "another field manager" with the official client over the same kubeconfig.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

from cozyplan.lab import runtime
from cozyplan_kubernetes.client import JSON, KubeClient, Response, load_configuration
from cozyplan_kubernetes.errors import Request
from tests.conftest import run_lab_cli

TIME_SCALE = 0.02

TALOS = """\
version: 1
resources:
  talos_secrets.cluster: {}
  talos_machine_config.cp1:
    cluster_name: cozy
    endpoint: https://10.0.0.201:6443
    machine_type: controlplane
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


@dataclass
class Cluster:
    dir: Path
    labdir: Path
    kubeconfig: Path

    def cli(
        self, *args: str, spec: str = "cozyplan.yaml", timeout: float = 240
    ) -> subprocess.CompletedProcess[str]:
        return run_lab_cli(self.dir, self.labdir, *args, spec=spec, timeout=timeout)

    def write(self, text: str, name: str = "cozyplan.yaml") -> Path:
        path = self.dir / name
        path.write_text(textwrap.dedent(text))
        return path

    def lab(self, *args: str) -> None:
        """``cozyplan lab up|down`` (the CLI's process exits, so the lab is never our zombie)."""
        done = subprocess.run(
            [sys.executable, "-m", "cozyplan", "lab", *args, "--lab-dir", str(self.labdir)],
            cwd=self.dir,
            text=True,
            capture_output=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stdout + done.stderr

    def up(self, *settings: str) -> None:
        self.lab("up", "--time-scale", str(TIME_SCALE), *(f"--set={s}" for s in settings))

    @contextlib.contextmanager
    def restarted(self, *settings: str) -> Iterator[None]:
        """The lab restarted with ``settings`` (``kubernetes.error_rate=0.1``), then without."""
        self.lab("down")
        self.up(*settings)
        try:
            yield
        finally:
            self.lab("down")
            self.up()

    def client(self) -> KubeClient:
        info = runtime.read_info(self.labdir)
        assert info is not None, "the background lab is not running"
        lab = runtime.LabClient(info, self.labdir)
        doc = YAML(typ="safe", pure=True).load(self.kubeconfig.read_text())
        cfg, user = load_configuration(doc, None, self.dir, lab.resolve)
        return KubeClient(cfg, user, timeout=10)

    def call(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        content_type: str = JSON,
        query: dict[str, str] | None = None,
        allow: tuple[int, ...] = (404,),
    ) -> Response:
        client = self.client()
        try:
            return client.request(
                method,
                path,
                Request(method.lower(), path),
                body=body,
                content_type=content_type,
                query=query,
                allow=allow,
            )
        finally:
            client.close()


def state_of(c: Cluster, spec: str) -> dict[str, Any]:
    result = c.cli("show", "--json", spec=spec)
    assert result.returncode == 0, result.stderr
    doc: dict[str, Any] = json.loads(result.stdout)
    return doc
