"""A picture of an apply: one self-contained HTML page (``apply --report``, ``show --report``).

The page holds its data as JSON and draws it with a small inline script: the step graph
(coloured by action, outlined by outcome, critical path in bold) and a Gantt timeline of every
step (duration, retries, time queued for a free slot, what it waited on, the critical path).
No external asset and no network: a Content-Security-Policy forbids any fetch.
"""

from __future__ import annotations

import datetime as dt
import html
import json
from importlib import resources
from typing import Any

import networkx as nx

from cozyplan.runlog import RunRecord

ACTION_COLOURS = {
    "create": "#2da44e",
    "update": "#d4a72c",
    "delete": "#cf222e",
    "delete-then-create": "#8250df",
    "create-then-delete": "#8250df",
    "read": "#0969da",
    "no-op": "#afb8c1",
}


def layout(run: RunRecord) -> list[tuple[int, int]]:
    """(column, row) of each step: columns by dependency depth, rows by their inputs' rows."""
    g = run.graph()
    layer: dict[int, int] = {}
    for n in nx.topological_sort(g):
        layer[n] = max((layer[p] + 1 for p in g.predecessors(n)), default=0)
    columns: dict[int, list[int]] = {}
    for n in sorted(layer):
        columns.setdefault(layer[n], []).append(n)
    row: dict[int, float] = {}
    for col in sorted(columns):
        members = columns[col]

        def centre(n: int) -> tuple[float, str]:
            preds = [row[p] for p in g.predecessors(n)]
            return (sum(preds) / len(preds) if preds else float(n), run.steps[n].address)

        members.sort(key=centre)
        for i, n in enumerate(members):
            row[n] = float(i)
    return [(layer[i], int(row[i])) for i in range(len(run.steps))]


def report_data(run: RunRecord, title: str) -> dict[str, Any]:
    critical = run.critical_path()
    on_path = set(critical)
    positions = layout(run)
    steps = []
    for i, s in enumerate(run.steps):
        steps.append(
            {
                "address": s.address,
                "action": s.action,
                "outcome": s.outcome,
                "start": s.start,
                "end": s.end,
                "duration": s.duration,
                "retries": s.retries,
                "after": s.after,
                "error": s.error,
                "waited_on": run.waited_on(i),
                "queued": run.queued(i),
                "critical": i in on_path,
                "column": positions[i][0],
                "row": positions[i][1],
            }
        )
    started = dt.datetime.fromtimestamp(run.started, dt.UTC)
    return {
        "title": title,
        "operation": run.operation,
        "run_id": run.run_id,
        "started": started.strftime("%Y-%m-%d %H:%M:%S UTC"),
        "duration": run.duration,
        "parallelism": run.parallelism,
        "outcome": run.outcome,
        "critical": critical,
        "critical_duration": sum(run.steps[i].duration for i in critical),
        "colours": ACTION_COLOURS,
        "steps": steps,
    }


def _script_json(data: Any) -> str:
    """JSON safe inside a <script> element: no '<', '>' or '&' survives unescaped."""
    text = json.dumps(data, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def render_report(run: RunRecord, title: str) -> str:
    assets = resources.files("cozyplan.render") / "report_assets"
    css = (assets / "report.css").read_text()
    js = (assets / "report.js").read_text()
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">\n'
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:\">\n"
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>cozyplan {html.escape(run.operation)}: {html.escape(title)}</title>\n"
        f"<style>\n{css}</style>\n</head>\n<body>\n"
        '<noscript><p class="warn">This report draws itself with JavaScript; '
        "enable it to see the graph and the timeline.</p></noscript>\n"
        '<main id="report"></main>\n'
        f'<script type="application/json" id="cozyplan-run">{_script_json(report_data(run, title))}'
        "</script>\n"
        f"<script>\n{js}</script>\n</body></html>\n"
    )
