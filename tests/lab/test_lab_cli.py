"""The lab as a user runs it: background or in-process, the world persisting between commands."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from tests.conftest import Project

EXAMPLE = Path(__file__).resolve().parents[2] / "specs/examples/proxmox.yaml"


def test_background_lab_and_in_process_lab_share_one_world(project: Project) -> None:
    shutil.copy(EXAMPLE, project.dir / "pve.yaml")
    up = project.sh("lab", "up", "--time-scale", "0.02")
    assert up.returncode == 0, up.stderr
    assert "proxmox" in up.stdout
    try:
        status = project.sh("lab", "status", "--json")
        assert json.loads(status.stdout)["pid"] > 0
        applied = project.sh("apply", "--lab", "--auto-approve", "-f", "pve.yaml")
        assert applied.returncode == 0, applied.stdout + applied.stderr
        assert "Apply complete! Resources: 7 added" in applied.stdout
        # a second lab on the same directory is refused, naming the running one
        again = project.sh("lab", "up")
        assert again.returncode == 1 and "already running" in again.stderr
    finally:
        down = project.sh("lab", "down")
        assert down.returncode == 0
    assert "No lab is running" in project.sh("lab", "status").stdout
    # no lab running: --lab starts one in-process on the same (persisted) world
    plan = project.sh(
        "plan", "--lab", "--detailed-exitcode", "-f", "pve.yaml", "--time-scale", "0.02"
    )
    assert plan.returncode == 0, plan.stdout + plan.stderr
    # the rehearsal's state lives in the lab, never in ./state
    assert (project.dir / ".lab/state/pve.state.json").exists()
    assert not (project.dir / "state").exists()
    reset = project.sh("lab", "reset", "--yes")
    assert reset.returncode == 0
    fresh = project.sh(
        "plan", "--lab", "--detailed-exitcode", "-f", "pve.yaml", "--time-scale", "0.02"
    )
    assert fresh.returncode == 2, fresh.stdout + fresh.stderr
