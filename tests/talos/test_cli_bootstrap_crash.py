"""Issue 12 item 1 through the CLI: SIGKILL while talos_bootstrap waits for its node to come
back; the next plan must not take the crashed create for done ("No changes" with etcd never
bootstrapped), and the next apply bootstraps exactly once."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

SPEC = """\
version: 1
providers:
  talos: {timeout: 30, reboot_timeout: 600}
resources:
  talos_secrets.cluster: {}
  talos_machine_config.cp1:
    cluster_name: crash
    endpoint: "https://10.0.0.250:6443"
    vip: 10.0.0.250
    node_subnet: 10.0.0.0/24
    secrets: "${talos_secrets.cluster.secrets_yaml}"
    talos_endpoints: [10.0.0.251]
  talos_node.cp1:
    address: 10.0.0.251
    machine_config: "${talos_machine_config.cp1.machine_config}"
    talosconfig: "${talos_machine_config.cp1.talosconfig}"
    wait: false              # so the bootstrap starts while the node reboots into its config
  talos_bootstrap.etcd:
    node: "${talos_node.cp1.address}"
    talosconfig: "${talos_machine_config.cp1.talosconfig}"
"""
COZYPLAN = shutil.which("cozyplan")


def _pending_bootstrap(journal: Path) -> bool:
    try:
        lines = journal.read_bytes().splitlines()
    except FileNotFoundError:
        return False
    for line in lines[1:]:
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            continue
        res = entry.get("resource") or {}
        if entry.get("address") == "talos_bootstrap.etcd" and res.get("pending"):
            return True
    return False


def _bootstrap_calls(labdir: Path) -> int:
    world = json.loads((labdir / "world.json").read_text())
    return sum(int(n.get("bootstrap_calls", 0)) for n in world["talos"]["nodes"].values())


@pytest.mark.slow
@pytest.mark.skipif(COZYPLAN is None, reason="cozyplan CLI not installed")
def test_sigkill_while_bootstrap_waits_then_plan_is_not_empty(tmp_path: Path) -> None:
    assert COZYPLAN is not None
    (tmp_path / "crash.yaml").write_text(SPEC)
    labdir = tmp_path / "lab"
    common = ["-f", "crash.yaml", "--lab", "--lab-dir", str(labdir), "--time-scale", "0.05"]
    proc = subprocess.Popen(
        [COZYPLAN, "apply", "--auto-approve", *common],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    journal = labdir / "state" / "crash.state.json.journal"
    deadline = time.monotonic() + 60
    while not _pending_bootstrap(journal):
        assert time.monotonic() < deadline and proc.poll() is None, (
            proc.stdout.read().decode() if proc.stdout else ""
        )
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)  # the crash marker is down, the node is rebooting
    proc.wait(10)
    assert _bootstrap_calls(labdir) == 0

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [COZYPLAN, *args, *common], cwd=tmp_path, capture_output=True, text=True, timeout=120
        )

    plan = run("plan", "--detailed-exitcode")
    assert plan.returncode == 2, plan.stdout + plan.stderr  # not "No changes"
    assert "talos_bootstrap.etcd" in plan.stdout
    applied = run("apply", "--auto-approve")
    assert applied.returncode == 0, applied.stdout + applied.stderr
    assert _bootstrap_calls(labdir) == 1
    assert run("plan", "--detailed-exitcode").returncode == 0
