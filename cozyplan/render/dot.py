"""The resource graph in Graphviz DOT, optionally coloured by planned action (graph --plan)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence

from cozyplan.plan import Action

#: fill colour, font colour (the same palette as the apply report)
COLOURS: dict[Action, tuple[str, str]] = {
    Action.CREATE: ("#2da44e", "white"),
    Action.UPDATE: ("#d4a72c", "black"),
    Action.DELETE: ("#cf222e", "white"),
    Action.DELETE_THEN_CREATE: ("#8250df", "white"),
    Action.CREATE_THEN_DELETE: ("#8250df", "white"),
    Action.READ: ("#0969da", "white"),
    Action.NOOP: ("#eaeef2", "black"),
}


def _q(text: str) -> str:
    return json.dumps(text)  # a DOT string: double quotes, backslash escapes


def render_dot(
    nodes: Iterable[str],
    edges: Iterable[tuple[str, str]],
    actions: Mapping[str, Action] | None = None,
    removed: Mapping[str, Sequence[str]] | None = None,
) -> str:
    """DOT text; with ``actions``, nodes are filled by action and ``removed`` nodes (in the
    state only) are drawn dashed with the dependencies the state recorded."""
    lines = ["digraph cozyplan {", '  rankdir = "LR";', "  node [shape = box];"]
    removed = removed or {}
    all_nodes = sorted({*nodes, *removed})
    for node in all_nodes:
        if actions is None:
            lines.append(f"  {_q(node)};")
            continue
        action = actions.get(node, Action.NOOP)
        fill, font = COLOURS[action]
        label = f"{action.symbol.strip()} {node}".strip()
        style = "filled,dashed" if node in removed else "filled"
        lines.append(
            f"  {_q(node)} [label = {_q(label)}, style = {_q(style)}, fillcolor = {_q(fill)}, "
            f"fontcolor = {_q(font)}, tooltip = {_q(action.value)}];"
        )
    all_edges = sorted({*edges, *((d, n) for n, deps in removed.items() for d in deps)})
    for a, b in all_edges:
        if a in all_nodes and b in all_nodes:
            lines.append(f"  {_q(a)} -> {_q(b)};")
    if actions is not None:
        lines.append("  subgraph cluster_legend {")
        lines.append('    label = "planned action"; fontsize = 10; style = "dashed";')
        shown = {actions.get(n, Action.NOOP) for n in all_nodes}
        for action in COLOURS:
            if action in shown:
                fill, font = COLOURS[action]
                lines.append(
                    f"    {_q('legend: ' + action.value)} [label = {_q(action.value)}, "
                    f'style = "filled", fillcolor = {_q(fill)}, fontcolor = {_q(font)}];'
                )
        lines.append("  }")
    lines.append("}")
    return "\n".join(lines) + "\n"
