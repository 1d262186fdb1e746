"""Run the cases: one fresh temp work dir per (case, tool), its steps in order."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from statistics import median
from typing import Any

from bench.cases import Case
from bench.measure import Measurement
from bench.shapes import SHAPES
from bench.tools import EXPECTED_EXIT, REPEATED_STEPS, Tool, run_step

LOG_TAIL = 1500


@dataclass
class StepResult:
    shape: str
    n: int
    tool: str
    step: str
    parallelism: int
    sleep_s: float | None
    wall_s: float
    user_s: float
    sys_s: float
    peak_rss_mb: float
    state_bytes: int | None
    exit_code: int
    ok: bool
    loadavg_1m: float  # load just before the step: other work on the machine blurs timings
    error: str | None = None
    runs_wall_s: list[float] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Options:
    sleep_s: float
    repeat: int  # idempotent steps (the no-op plan) run this many times; the median is kept
    timeout_s: float
    keep: bool


def _tail(log: Path) -> str:
    try:
        return log.read_text(errors="replace")[-LOG_TAIL:].strip()
    except OSError:
        return ""


def _error(step: str, m: Measurement, log: Path) -> str | None:
    if m.timed_out:
        return f"{step} timed out"
    want = EXPECTED_EXIT[step]
    if m.exit_code == want:
        return None
    what = (
        "plan is not empty after apply"
        if (step == "plan" and m.exit_code == 2)
        else f"{step} exited {m.exit_code}"
    )
    return f"{what}\n{_tail(log)}"


def run_case(
    case: Case, tool: Tool, opts: Options, workdir: Path, report: Callable[[StepResult], None]
) -> list[StepResult]:
    shape = SHAPES[case.shape]
    tool.prepare(workdir, shape, case.n, opts.sleep_s)
    results: list[StepResult] = []
    try:
        _run_steps(case, tool, opts, workdir, report, results, (*tool.setup_steps(), *shape.steps))
    finally:
        # e.g. stop a background lab, also after a failed step (measured, not compared)
        _run_steps(case, tool, opts, workdir, report, results, shape.teardown)
    return results


def _run_steps(
    case: Case,
    tool: Tool,
    opts: Options,
    workdir: Path,
    report: Callable[[StepResult], None],
    results: list[StepResult],
    steps: tuple[str, ...],
) -> None:
    shape = SHAPES[case.shape]
    for step in steps:
        times = opts.repeat if step in REPEATED_STEPS else 1
        load = round(os.getloadavg()[0], 2)
        runs = [
            run_step(tool, step, workdir, case.parallelism, shape, opts.timeout_s)
            for _ in range(times)
        ]
        walls = sorted(r.wall_s for r in runs)
        m = min(runs, key=lambda r: abs(r.wall_s - median(walls)))
        error = next((e for r in runs if (e := _error(step, r, workdir / "log.txt"))), None)
        state = tool.state_file(workdir)
        result = StepResult(
            shape=case.shape,
            n=case.n,
            tool=case.tool,
            step=step,
            parallelism=case.parallelism,
            sleep_s=opts.sleep_s if shape.sleeps else None,
            wall_s=round(m.wall_s, 4),
            user_s=round(m.user_s, 3),
            sys_s=round(m.sys_s, 3),
            peak_rss_mb=round(max(r.peak_rss_kb for r in runs) / 1024, 1),
            state_bytes=state.stat().st_size if state.exists() else None,
            exit_code=m.exit_code,
            ok=error is None,
            loadavg_1m=load,
            error=error,
            runs_wall_s=[round(w, 4) for w in walls] if times > 1 else [],
        )
        results.append(result)
        report(result)
        if not result.ok:
            break  # a plan after a failed apply measures nothing


def run_all(
    cases: list[Case],
    tools: dict[str, Tool],
    opts: Options,
    report: Callable[[StepResult], None],
    announce: Callable[[Case, Path], None],
) -> list[StepResult]:
    results: list[StepResult] = []
    for case in cases:
        workdir = Path(tempfile.mkdtemp(prefix=f"cozyplan-bench-{case.shape}{case.n}-"))
        announce(case, workdir)
        try:
            results += run_case(case, tools[case.tool], opts, workdir, report)
        finally:
            if not opts.keep:
                shutil.rmtree(workdir, ignore_errors=True)
    return results
