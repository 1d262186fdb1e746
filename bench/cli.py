"""Command line of ``python -m bench``."""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench import cases as C
from bench.report import check_targets, compare, document, table, targets_text
from bench.runner import Options, StepResult, run_all
from bench.shapes import SHAPES
from bench.tools import Cozyplan, Terraform, Tool

REPO = Path(__file__).resolve().parent.parent
RESULTS_DIR = REPO / "bench" / "results"


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m bench",
        description="Measure cozyplan and Terraform side by side on the same graph shapes "
        f"({', '.join(f'{s.name}: {s.description}' for s in SHAPES.values())}).",
    )
    p.add_argument(
        "--only",
        action="append",
        default=[],
        metavar="SHAPE",
        help="run only this shape (repeatable, or comma-separated)",
    )
    p.add_argument(
        "--sizes",
        action="append",
        default=[],
        metavar="[SHAPE=]N,N",
        help="sizes for every selected shape, or for one (repeatable)",
    )
    p.add_argument(
        "--quick", action="store_true", help="tiny sizes and short sleeps: a smoke run for CI"
    )
    p.add_argument("--skip-terraform", action="store_true", help="measure cozyplan alone")
    p.add_argument(
        "--terraform-large",
        action="store_true",
        help=f"also run Terraform above {C.TERRAFORM_MAX_N['fanout']} resources (slow)",
    )
    p.add_argument(
        "--sleep",
        type=float,
        default=None,
        metavar="SECONDS",
        help=f"duration of each command of the sleep shape (default "
        f"{C.DEFAULT_SLEEP_S:g}, --quick {C.QUICK_SLEEP_S:g})",
    )
    p.add_argument(
        "--repeat",
        type=int,
        default=1,
        metavar="K",
        help="run each no-op plan K times and keep the median (default 1)",
    )
    p.add_argument(
        "--timeout",
        type=float,
        default=1800.0,
        metavar="SECONDS",
        help="kill a step after this long (default 1800)",
    )
    p.add_argument(
        "--json", action="store_true", help="also write the results as JSON into --results-dir"
    )
    p.add_argument(
        "--results-dir",
        type=Path,
        default=RESULTS_DIR,
        help="where --json writes (default bench/results/, git-ignored)",
    )
    p.add_argument("--keep", action="store_true", help="keep the temp work dirs (and logs)")
    p.add_argument(
        "--cozyplan",
        default=None,
        metavar="CMD",
        help="cozyplan command line (default: this python -m cozyplan)",
    )
    p.add_argument(
        "--terraform",
        default="terraform",
        metavar="PATH",
        help="terraform binary (default: terraform on the PATH)",
    )
    return p


def _selected_shapes(only: list[str]) -> list[str]:
    names = [s.strip() for value in only for s in value.split(",") if s.strip()]
    for name in names:
        if name not in SHAPES:
            raise ValueError(f"--only: unknown shape {name!r} (one of {', '.join(SHAPES)})")
    return [s for s in SHAPES if not names or s in names]


def _git(*args: str) -> str:
    try:
        out = subprocess.run(
            ["git", "-C", str(REPO), *args], capture_output=True, text=True, timeout=10, check=False
        )
    except OSError:
        return ""
    return out.stdout.strip()


def _git_commit() -> str | None:
    """The commit measured, with ``+dirty`` when the engine or providers have local edits."""
    commit = _git("rev-parse", "--short", "HEAD")
    if not commit:
        return None
    dirty = _git("status", "--porcelain", "--", "cozyplan", "providers")
    return commit + ("+dirty" if dirty else "")


def _machine(tools: dict[str, Tool]) -> dict[str, Any]:
    return {
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "cpus": len(os.sched_getaffinity(0)),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "loadavg_at_start": [round(x, 2) for x in os.getloadavg()],
        "git_commit": _git_commit(),
        "versions": {name: tool.version() for name, tool in tools.items()},
    }


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        shapes = _selected_shapes(args.only)
        base = C.QUICK_SIZES if args.quick else C.DEFAULT_SIZES
        sizes = C.parse_sizes(args.sizes, shapes) if args.sizes else {s: base[s] for s in shapes}
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.repeat < 1:
        print("error: --repeat must be at least 1", file=sys.stderr)
        return 2

    cozyplan = Cozyplan(argv=shlex.split(args.cozyplan)) if args.cozyplan else Cozyplan()
    tools: dict[str, Tool] = {"cozyplan": cozyplan}
    terraform = Terraform(binary=args.terraform)
    use_tf = not args.skip_terraform
    if use_tf and not terraform.available():
        print(f"error: {args.terraform} not found (use --skip-terraform)", file=sys.stderr)
        return 2
    if use_tf:
        tools["terraform"] = terraform

    sleep = (
        args.sleep
        if args.sleep is not None
        else (C.QUICK_SLEEP_S if args.quick else C.DEFAULT_SLEEP_S)
    )
    opts = Options(sleep_s=sleep, repeat=args.repeat, timeout_s=args.timeout, keep=args.keep)
    # Byte-compile cozyplan first, as an installed wheel is: this machine sets
    # PYTHONDONTWRITEBYTECODE, so an editable checkout would recompile on every command.
    subprocess.run(
        [sys.executable, "-m", "compileall", "-q", str(REPO / "cozyplan"), str(REPO / "providers")],
        check=False,
        capture_output=True,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": ""},
    )
    cases = C.build_cases(
        sizes, terraform=use_tf, terraform_large=args.terraform_large, quick=args.quick
    )
    machine = _machine(tools)
    print(
        f"# {len(cases)} cases on {machine['cpus']} CPUs, load {machine['loadavg_at_start']}; "
        + "; ".join(f"{k}: {v}" for k, v in machine["versions"].items()),
        file=sys.stderr,
    )

    def announce(case: C.Case, workdir: Path) -> None:
        print(
            f"# {case.shape} N={case.n} {case.tool} parallelism={case.parallelism}"
            + (f" (kept in {workdir})" if args.keep else ""),
            file=sys.stderr,
            flush=True,
        )

    def report(r: StepResult) -> None:
        status = "ok" if r.ok else f"FAILED: {(r.error or '').splitlines()[0]}"
        print(
            f"    {r.step:<6} {r.wall_s:9.2f} s  {r.peak_rss_mb:7.1f} MB  {status}",
            file=sys.stderr,
            flush=True,
        )

    results = run_all(cases, tools, opts, report, announce)
    print(table(compare(results)))
    checks = check_targets(results)
    if checks:
        print("\nTargets (cozyplan, issues 2 and 13):\n" + targets_text(checks))
    failed = [r for r in results if not r.ok]
    for r in failed:
        print(f"\nFAILED {r.tool} {r.shape} N={r.n} {r.step}:\n{r.error}", file=sys.stderr)
    if args.json:
        options = {
            "sizes": {k: list(v) for k, v in sizes.items()},
            "sleep_s": sleep,
            "repeat": args.repeat,
            "quick": args.quick,
            "terraform": use_tf,
            "terraform_large": args.terraform_large,
        }
        args.results_dir.mkdir(parents=True, exist_ok=True)
        path = args.results_dir / f"bench-{time.strftime('%Y%m%d-%H%M%S')}.json"
        path.write_text(json.dumps(document(results, machine, options), indent=2) + "\n")
        print(f"\nresults: {path}")
    return 1 if failed else 0
