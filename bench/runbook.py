"""The whole runbook on the lab: wall time of the README's main command against the critical
path of the run (``python -m bench.runbook [--time-scale 0.2]``).

The apply runs as a user runs it (``cozyplan apply --lab --auto-approve -f specs/cozystack.yaml``
in a fresh copy of ``specs/``, a fresh lab). Its run record (kept in the state) times every step;
the critical path is the dependency chain with the longest total step time, i.e. the lab's
simulated latencies (image download, clones, Talos boots, HelmRelease installs, ...) along the
chain nothing can overlap. Wall time minus that is what cozyplan adds: process and lab start,
planning, scheduling, state writes. The machine's load average is printed beside the figures,
since other work on a shared machine slows both.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def measure(time_scale: str) -> dict[str, float | int | str]:
    from cozyplan.cli.common import open_store
    from cozyplan.lab import default_lab_dir
    from cozyplan.runlog import RunRecord

    with tempfile.TemporaryDirectory(prefix="cozyplan-runbook-") as tmp:
        work = Path(tmp)
        shutil.copytree(REPO / "specs", work / "specs")
        cmd = [sys.executable, "-m", "cozyplan", "apply", "--lab", "--auto-approve"]
        cmd += ["--time-scale", time_scale, "-f", "specs/cozystack.yaml"]
        load_before = os.getloadavg()[0]
        t0 = time.monotonic()
        out = subprocess.run(cmd, cwd=work, capture_output=True, text=True, check=False)
        wall = time.monotonic() - t0
        if out.returncode != 0:
            raise SystemExit(f"apply failed ({out.returncode}):\n{out.stdout[-2000:]}{out.stderr}")
        old = Path.cwd()
        os.chdir(work)
        try:
            store = open_store(Path("specs/cozystack.yaml"), None, True, default_lab_dir())
            last = store.load().last_run
        finally:
            os.chdir(old)
        assert last is not None, "the apply recorded no run"
        run = RunRecord.from_json(last)
        path = run.critical_path()
        critical = sum(run.steps[i].duration for i in path)
        return {
            "time_scale": time_scale,
            "steps": len(run.steps),
            "wall_s": round(wall, 1),
            "apply_s": round(run.duration, 1),
            "critical_path_s": round(critical, 1),
            "critical_path_steps": len(path),
            "overhead_pct": round(100 * (wall - critical) / critical, 1),
            "walk_overhead_pct": round(100 * (run.duration - critical) / critical, 1),
            "load_before": round(load_before, 2),
            "load_after": round(os.getloadavg()[0], 2),
            "path": " -> ".join(run.steps[i].address for i in path),
        }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.runbook", description=__doc__)
    parser.add_argument("--time-scale", default="0.2", help="lab time scale (default 0.2)")
    args = parser.parse_args(argv)
    result = measure(args.time_scale)
    width = max(map(len, result))
    for key, value in result.items():
        print(f"{key:<{width}}  {value}")


if __name__ == "__main__":
    main()
