"""Smoke test of the benchmark runner: it runs end to end and writes a well-formed result.

Timings are not asserted (they depend on the machine); only the shape of the output is.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from ruamel.yaml import YAML

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:  # `bench` is a top-level dir of the repo, not an installed package
    sys.path.insert(0, str(REPO))

from bench.cases import build_cases, parse_sizes  # noqa: E402
from bench.report import check_targets, targets_text  # noqa: E402
from bench.runner import StepResult  # noqa: E402
from bench.shapes import SHAPES  # noqa: E402


def test_parse_sizes_all_and_per_shape() -> None:
    assert parse_sizes(["chain=5,50", "7"], ["chain", "fanout"]) == {
        "chain": (5, 50),
        "fanout": (7,),
    }
    with pytest.raises(ValueError, match="unknown shape"):
        parse_sizes(["nope=3"], ["chain"])
    with pytest.raises(ValueError, match="positive"):
        parse_sizes(["0"], ["chain"])


def test_terraform_is_capped_unless_asked() -> None:
    sizes: dict[str, tuple[int, ...]] = {"fanout": (1000, 10000)}
    capped = build_cases(sizes, terraform=True, terraform_large=False, quick=False)
    assert [(c.n, c.tool) for c in capped] == [
        (1000, "cozyplan"),
        (1000, "terraform"),
        (10000, "cozyplan"),
    ]
    large = build_cases(sizes, terraform=True, terraform_large=True, quick=False)
    assert ("terraform", 10000) in {(c.tool, c.n) for c in large}
    sleep = build_cases({"sleep": (100,)}, terraform=True, terraform_large=False, quick=False)
    assert {(c.tool, c.parallelism) for c in sleep} == {
        (t, p) for t in ("cozyplan", "terraform") for p in (10, 100)
    }


@pytest.mark.parametrize("shape", sorted(s for s, shape in SHAPES.items() if shape.terraform))
def test_shapes_render_the_same_graph_for_both_tools(shape: str) -> None:
    n = 4
    spec = YAML(typ="safe").load(SHAPES[shape].cozyplan(n, 0.5))
    assert spec["version"] == 1
    assert len(spec["resources"]) == n
    render = SHAPES[shape].terraform
    assert render is not None
    hcl = render(n, 0.5)
    assert hcl.count('resource "terraform_data"') == n
    refs = sum("${" in json.dumps(body) for body in spec["resources"].values())
    chained = shape in ("chain", "journal")
    assert refs == (n - 1 if chained else 0)
    assert hcl.count("terraform_data.n") == (n - 1 if chained else 0)


def test_lab_shapes_are_cozyplan_only() -> None:
    spec = YAML(typ="safe").load(SHAPES["vm"].cozyplan(5, 0))
    assert sorted(spec["resources"]) == sorted(
        ["proxmox_vm_template.base", *(f"proxmox_vm.v{i}" for i in range(5))]
    )
    cases = build_cases(
        {"vm": (5,), "startup": (1,)}, terraform=True, terraform_large=True, quick=False
    )
    assert [(c.shape, c.tool) for c in cases] == [
        ("vm", "cozyplan"),
        ("startup", "cozyplan"),
        ("startup", "terraform"),
    ]


def _result(tool: str, shape: str, n: int, step: str, wall: float, ok: bool = True) -> StepResult:
    return StepResult(shape, n, tool, step, 10, None, wall, 0, 0, 1, None, 0, ok, 0.0)


def test_targets_of_issue_13_are_checked_from_one_run() -> None:
    results = [
        _result("cozyplan", "startup", 1, "version", 0.05),
        _result("cozyplan", "startup", 1, "validate", 0.25),
        _result("cozyplan", "vm", 100, "apply", 4.0),
        _result("cozyplan", "vm", 1000, "apply", 52.0),
        _result("cozyplan", "vm-bg", 100, "apply", 3.5),
        _result("cozyplan", "chain", 1000, "apply", 1.0),
        _result("cozyplan", "journal", 1000, "apply", 1.5),
        _result("terraform", "chain", 1000, "apply", 250.0, ok=False),
    ]
    checks = {c["target"]: c for c in check_targets(results)}
    assert checks["cozyplan --version <= 0.1 s"]["met"] is True
    assert checks["validate of a one-resource spec <= 0.2 s"]["met"] is False
    assert checks["1000 proxmox_vm apply on the lab (scale 0.01) <= 35 s"]["met"] is False
    inproc = checks["in-process lab within 1.2x of a background lab (100 VMs apply)"]
    assert inproc["measured"] == round(4.0 / 3.5, 4) and inproc["met"] is True
    linear = checks["lab apply linear: 1000 VMs <= 1.25 x 10 x 100 VMs"]
    assert linear["measured"] == 13.0 and linear["met"] is False
    assert checks["durable-journal chain-1000 apply within 2x of the chain-1000 apply"]["met"]
    # a failed Terraform run gives no ratio, and a target without a figure is not met
    vs_tf = [c for name, c in checks.items() if "faster than Terraform" in name]
    assert vs_tf[0]["measured"] is None and vs_tf[0]["met"] is False
    assert "[MISSED] validate" in targets_text(check_targets(results))


def test_quick_run_writes_a_well_formed_result(tmp_path: Path) -> None:
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench",
            "--quick",
            "--skip-terraform",
            "--only",
            "chain,fanout,sleep",
            "--sizes",
            "3",
            "--sleep",
            "0.05",
            "--json",
            "--results-dir",
            str(tmp_path),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert out.returncode == 0, out.stderr
    files = list(tmp_path.glob("bench-*.json"))
    assert len(files) == 1
    doc = json.loads(files[0].read_text())
    assert doc["format_version"] == 1
    assert doc["machine"]["cpus"] >= 1
    assert "cozyplan" in doc["machine"]["versions"]
    seen = {(r["shape"], r["step"]) for r in doc["results"]}
    assert seen == {
        ("chain", "apply"),
        ("chain", "plan"),
        ("fanout", "apply"),
        ("fanout", "plan"),
        ("sleep", "apply"),
    }
    for r in doc["results"]:
        assert r["tool"] == "cozyplan"
        assert r["n"] == 3
        assert r["ok"] is True and r["error"] is None
        assert r["exit_code"] == 0  # the plan after apply is empty (detailed exit code 0)
        assert r["wall_s"] > 0 and r["peak_rss_mb"] > 0
        assert r["state_bytes"] and r["state_bytes"] > 0
    assert len(doc["comparisons"]) == 5
    assert all(row["ratio"] is None and "terraform" not in row for row in doc["comparisons"])
    assert doc["targets"] == []  # the issue's targets are for full sizes only
    assert "| shape" in out.stdout  # the table


def test_warm_shapes_start_and_stop_their_own_server(tmp_path: Path) -> None:
    from bench.tools import Cozyplan

    tool = Cozyplan()
    for name in ("startup-warm", "cozystack-warm", "sleep-warm"):
        shape = SHAPES[name]
        assert shape.steps[0] == "server-start" and shape.teardown == ("server-stop",)
        assert shape.terraform is None
        assert tool.command("server-start", tmp_path, 10, shape)[-2:] == ["server", "start"]
    # every cozyplan step of the bench talks to the work dir's server only (absent for the
    # cold shapes), never to one the user runs
    env = tool.env(tmp_path)
    assert env["COZYPLAN_SERVER_DIR"] == str(tmp_path / "server")
