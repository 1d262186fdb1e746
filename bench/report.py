"""Turn step results into side-by-side rows, target checks, a text table and a JSON document."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from bench.runner import StepResult

RESULT_FORMAT_VERSION = 1


@dataclass(frozen=True)
class Target:
    """A figure an issue asks for (issue 2 "Done when", issue 13 "Targets"): cozyplan's wall
    time of one step, at most ``limit_s``."""

    name: str
    shape: str
    n: int
    step: str
    limit_s: float
    parallelism: int | None = None
    sleep_s: float | None = None


@dataclass(frozen=True)
class RatioTarget:
    """A ratio of two measured walls (``tool/shape/n/step`` each), at most ``limit``."""

    name: str
    numerator: tuple[str, str, int, str]
    denominator: tuple[str, str, int, str]
    limit: float


TARGETS = (
    Target("chain-1000 apply < 5 s", "chain", 1000, "apply", 5.0),
    Target("chain-1000 no-op plan < 1 s", "chain", 1000, "plan", 1.0),
    Target("fanout-10000 no-op plan < 2 s", "fanout", 10000, "plan", 2.0),
    Target(
        "100 x sleep 1 at --parallelism 100 within 10% of 1 s",
        "sleep",
        100,
        "apply",
        1.1,
        parallelism=100,
        sleep_s=1.0,
    ),
    Target(
        "... with the command server (cozyplan server start)",
        "sleep-warm",
        100,
        "apply",
        1.1,
        parallelism=100,
        sleep_s=1.0,
    ),
    # issue 13
    Target("cozyplan --version <= 0.1 s", "startup", 1, "version", 0.1),
    Target("validate of a one-resource spec <= 0.2 s", "startup", 1, "validate", 0.2),
    Target("no-op plan --lab of the main spec <= 0.6 s", "cozystack", 1, "plan", 0.6),
    Target(
        "... with the command server (cozyplan server start) <= 0.6 s",
        "cozystack-warm",
        1,
        "plan",
        0.6,
    ),
    Target(
        "cozyplan --version with the command server <= 0.1 s", "startup-warm", 1, "version", 0.1
    ),
    Target(
        "validate of a one-resource spec with the command server <= 0.2 s",
        "startup-warm",
        1,
        "validate",
        0.2,
    ),
    Target("1000 proxmox_vm apply on the lab (scale 0.01) <= 35 s", "vm", 1000, "apply", 35.0),
    Target("1000 proxmox_vm no-op plan on the lab <= 1.5 s", "vm", 1000, "plan", 1.5),
)

RATIO_TARGETS = (
    RatioTarget(
        "in-process lab within 1.2x of a background lab (100 VMs apply)",
        ("cozyplan", "vm", 100, "apply"),
        ("cozyplan", "vm-bg", 100, "apply"),
        1.2,
    ),
    RatioTarget(
        "in-process lab within 1.2x of a background lab (1000 VMs apply)",
        ("cozyplan", "vm", 1000, "apply"),
        ("cozyplan", "vm-bg", 1000, "apply"),
        1.2,
    ),
    RatioTarget(
        "lab apply linear: 1000 VMs <= 1.25 x 10 x 100 VMs",
        ("cozyplan", "vm", 1000, "apply"),
        ("cozyplan", "vm", 100, "apply"),
        12.5,
    ),
    RatioTarget(
        "durable-journal chain-1000 apply within 2x of the chain-1000 apply",
        ("cozyplan", "journal", 1000, "apply"),
        ("cozyplan", "chain", 1000, "apply"),
        2.0,
    ),
    RatioTarget(
        "durable-journal chain-1000 apply >= 50x faster than Terraform (ratio <= 0.02)",
        ("cozyplan", "journal", 1000, "apply"),
        ("terraform", "chain", 1000, "apply"),
        0.02,
    ),
)

Key = tuple[str, int, str, int]


def _key(r: StepResult) -> Key:
    return (r.shape, r.n, r.step, r.parallelism)


def compare(results: list[StepResult]) -> list[dict[str, Any]]:
    """One row per (shape, N, step, parallelism) with both tools' figures and the ratio."""
    rows: dict[Key, dict[str, Any]] = {}
    for r in results:
        if r.step == "init":
            continue
        row = rows.setdefault(
            _key(r),
            {
                "shape": r.shape,
                "n": r.n,
                "step": r.step,
                "parallelism": r.parallelism,
                "sleep_s": r.sleep_s,
            },
        )
        row[r.tool] = {
            "wall_s": r.wall_s,
            "peak_rss_mb": r.peak_rss_mb,
            "state_bytes": r.state_bytes,
            "ok": r.ok,
        }
    for row in rows.values():
        c, t = row.get("cozyplan"), row.get("terraform")
        row["ratio"] = (
            round(c["wall_s"] / t["wall_s"], 4)
            if c and t and c["ok"] and t["ok"] and t["wall_s"] > 0
            else None
        )
    return list(rows.values())


def check_targets(results: list[StepResult]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for t in TARGETS:
        for r in results:
            if (r.tool, r.shape, r.n, r.step) != ("cozyplan", t.shape, t.n, t.step):
                continue
            if t.parallelism is not None and r.parallelism != t.parallelism:
                continue
            if t.sleep_s is not None and r.sleep_s != t.sleep_s:
                continue
            out.append(
                {
                    "target": t.name,
                    "limit_s": t.limit_s,
                    "measured_s": r.wall_s,
                    "met": r.ok and r.wall_s <= t.limit_s,
                }
            )
    walls = {(r.tool, r.shape, r.n, r.step): r for r in results}
    for rt in RATIO_TARGETS:
        num, den = walls.get(rt.numerator), walls.get(rt.denominator)
        if num is None or den is None:
            continue
        ok = num.ok and den.ok and den.wall_s > 0
        ratio = round(num.wall_s / den.wall_s, 4) if ok else None
        out.append(
            {
                "target": rt.name,
                "limit": rt.limit,
                "measured": ratio,
                "met": ratio is not None and ratio <= rt.limit,
            }
        )
    return out


def _size(b: int | None) -> str:
    if b is None:
        return "-"
    if b < 1024:
        return f"{b} B"
    exp = min(int(math.log(b, 1024)), 3)
    return f"{b / 1024**exp:.1f} {'BKMG'[exp]}B"


def _cell(side: dict[str, Any] | None, field: str) -> str:
    if not side:
        return "-"
    if not side["ok"]:
        return "FAILED"
    value = side[field]
    if field == "state_bytes":
        return _size(value)
    return f"{value:.2f}" if field == "wall_s" else f"{value:.0f}"


def table(rows: list[dict[str, Any]]) -> str:
    """A Markdown table (readable as plain text too)."""
    head = [
        "shape",
        "N",
        "step",
        "par",
        "cozyplan s",
        "terraform s",
        "ratio c/t",
        "cozyplan RSS MB",
        "terraform RSS MB",
        "cozyplan state",
        "terraform state",
    ]
    lines = [head]
    for row in rows:
        c, t = row.get("cozyplan"), row.get("terraform")
        step = row["step"] + (" (no-op)" if row["step"] == "plan" else "")
        shape = row["shape"] + (f" {row['sleep_s']:g}s" if row["sleep_s"] is not None else "")
        ratio = f"{row['ratio']:.3f}" if row["ratio"] is not None else "-"
        lines.append(
            [
                shape,
                str(row["n"]),
                step,
                str(row["parallelism"]),
                _cell(c, "wall_s"),
                _cell(t, "wall_s"),
                ratio,
                _cell(c, "peak_rss_mb"),
                _cell(t, "peak_rss_mb"),
                _cell(c, "state_bytes"),
                _cell(t, "state_bytes"),
            ]
        )
    widths = [max(len(line[i]) for line in lines) for i in range(len(head))]

    def fmt(cells: list[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    sep = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([fmt(lines[0]), sep, *(fmt(line) for line in lines[1:])])


def targets_text(checks: list[dict[str, Any]]) -> str:
    def figure(c: dict[str, Any]) -> str:
        if "measured_s" in c:
            return f"{c['measured_s']:.2f} s"
        return "-" if c["measured"] is None else f"ratio {c['measured']:.3f}"

    return "\n".join(
        f"  [{'MET' if c['met'] else 'MISSED'}] {c['target']}: {figure(c)}" for c in checks
    )


def document(
    results: list[StepResult], machine: dict[str, Any], options: dict[str, Any]
) -> dict[str, Any]:
    return {
        "format_version": RESULT_FORMAT_VERSION,
        "machine": machine,
        "options": options,
        "results": [r.to_json() for r in results],
        "comparisons": compare(results),
        "targets": check_targets(results),
    }
