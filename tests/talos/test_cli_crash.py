"""End to end through the CLI: kill cozyplan between apply-config and bootstrap, re-run."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

SPEC = Path(__file__).resolve().parents[2] / "specs" / "examples" / "talos.yaml"
COZYPLAN = shutil.which("cozyplan")


def _talos(labdir: Path) -> dict[str, object]:
    try:
        data: dict[str, object] = json.loads((labdir / "world.json").read_text()).get("talos", {})
    except (FileNotFoundError, json.JSONDecodeError):
        return {}
    return data


@pytest.mark.slow
@pytest.mark.skipif(COZYPLAN is None, reason="cozyplan CLI not installed")
def test_kill_between_apply_config_and_bootstrap(tmp_path: Path) -> None:
    assert COZYPLAN is not None
    spec = tmp_path / "talos.yaml"
    # the example writes the kubeconfig under the repo's state/; keep this test's in tmp_path
    text = SPEC.read_text()
    assert "../../state/talos.kubeconfig" in text
    spec.write_text(text.replace("../../state/talos.kubeconfig", "kubeconfig"))
    labdir = tmp_path / ".lab"
    common = ["-f", str(spec), "--lab", "--lab-dir", str(labdir), "--time-scale", "0.05"]
    proc = subprocess.Popen(
        [COZYPLAN, "apply", "--auto-approve", "--quiet", *common],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        nodes = _talos(labdir).get("nodes", {})
        assert isinstance(nodes, dict)
        if len(nodes) == 3 and all(n.get("config") for n in nodes.values()):
            break  # every node took its config and is rebooting: bootstrap has not run yet
        assert proc.poll() is None, proc.stdout.read().decode() if proc.stdout else ""
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    nodes = _talos(labdir)["nodes"]
    assert isinstance(nodes, dict)
    assert all(not n.get("bootstrap_calls") for n in nodes.values())

    rerun = subprocess.run(
        [COZYPLAN, "apply", "--auto-approve", "--quiet", *common],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    nodes = _talos(labdir)["nodes"]
    assert isinstance(nodes, dict)
    assert sum(int(n.get("bootstrap_calls", 0)) for n in nodes.values()) == 1
    # a lab run writes the file the spec names under the lab directory
    assert not (tmp_path / "kubeconfig").exists()
    assert (labdir / "files" / str(tmp_path / "kubeconfig").lstrip("/")).exists()
    plan = subprocess.run(
        [COZYPLAN, "plan", "--detailed-exitcode", *common],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert plan.returncode == 0, plan.stdout + plan.stderr
