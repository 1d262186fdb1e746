"""The shared lab of the capmox tests: the example spec applied on a background lab (Proxmox,
Talos, Kubernetes, CozyStack, capmox), and clients of it: the CLI in a subprocess, proxmoxer
with the lab's root token (to look at Proxmox as an admin would), kubectl."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from proxmoxer import ProxmoxAPI

from cozyplan.lab import runtime

TIME_SCALE = 0.02
EXAMPLE = Path(__file__).parents[2] / "specs" / "examples" / "capmox.yaml"


def lab_spec() -> str:
    """The example, unchanged but for where the kubeconfig goes and a wider platform bound
    (two cores shared by many tests make CozyStack's 47 releases slower than in life)."""
    text = EXAMPLE.read_text().replace("../../state/capmox-mgmt.kubeconfig", "kubeconfig")
    return text.replace(
        "      ipv4-join-cidr: 100.64.0.0/16\n",
        "      ipv4-join-cidr: 100.64.0.0/16\n    timeout: 18000\n",
    )


@dataclass
class Lab:
    dir: Path
    labdir: Path

    def cli(self, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "cozyplan",
                *args,
                "-f",
                "spec.yaml",
                "--lab",
                "--lab-dir",
                str(self.labdir),
            ],
            cwd=self.dir,
            text=True,
            capture_output=True,
            timeout=timeout,
            env={**os.environ, "NO_COLOR": "1"},
        )
        with (self.dir / "cli.log").open("a") as log:  # for a failing test's reader
            log.write(f"$ cozyplan {' '.join(args)}\n{done.stdout}{done.stderr}\n")
        return done

    def client(self) -> runtime.LabClient:
        info = runtime.read_info(self.labdir)
        assert info is not None, "the background lab is not running"
        return runtime.LabClient(info, self.labdir)

    def pve(self) -> Any:
        lab = self.client()
        settings = lab.provider_settings()["proxmox"]
        host, port = lab.resolve("proxmox", "10.0.0.1", 8006)
        user, _, token = str(settings["token_id"]).partition("!")
        return ProxmoxAPI(
            host,
            port=port,
            user=user,
            token_name=token,
            token_value=settings["token_secret"],
            verify_ssl=settings["ca_file"],
            backend="https",
        )

    def workers(self) -> list[dict[str, Any]]:
        vms = self.pve().cluster.resources.get(type="vm")
        return sorted(
            (vm for vm in vms if str(vm.get("name", "")).startswith("workload-workers-")),
            key=lambda vm: int(vm["vmid"]),
        )

    def loopback_kubeconfig(self) -> Path:
        """The admin kubeconfig pointing at the lab API server's loopback address."""
        found = list((self.labdir / "files").rglob("kubeconfig"))
        assert found, "talos_kubeconfig wrote no kubeconfig"
        doc = yaml.safe_load(found[0].read_text())
        host, port = self.client().resolve("kubernetes", "10.0.0.201", 6443)
        for cluster in doc["clusters"]:
            cluster["cluster"]["server"] = f"https://{host}:{port}"
        path = self.dir / "loopback.kubeconfig"
        path.write_text(yaml.safe_dump(doc))
        return path
