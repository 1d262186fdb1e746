"""validate, show, graph, schema."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from cozyplan.cli.common import (
    Exit,
    handle_errors,
    lab_options,
    open_session,
    parse_vars,
    spec_option,
    state_option,
    var_option,
)
from cozyplan.cli.common import styler as make_styler
from cozyplan.render.values import mask

# Each command imports the engine modules it needs itself: ``validate`` must not pay for
# the planner, the instance graph or the JSON Schema generator.


@click.command()
@spec_option
@var_option
@handle_errors
def validate(spec: Path, var_pairs: tuple[str, ...]) -> None:
    """Check the spec: fields, types, references, cycles. Talks to nothing.

    With --var, also check that each NAME is a declared variable.
    """
    from cozyplan.errors import Diagnostic, SpecError
    from cozyplan.spec.config import load_config

    cfg = load_config(spec)
    unknown = [n for n in parse_vars(var_pairs) if n not in cfg.variables]
    if unknown:
        raise SpecError([Diagnostic(f"--var {n}: no such variable in {spec}") for n in unknown])
    click.echo(make_styler()("Success!", "green", bold=True) + f" {spec} is valid.")


@click.command()
@click.argument("planfile", required=False, type=click.Path(path_type=Path))
@spec_option
@state_option
@click.option("--lab", is_flag=True, help="Show the lab's state for this spec.")
@click.option("--lab-dir", type=click.Path(path_type=Path), default=Path(".lab"))
@click.option("--json", "as_json", is_flag=True)
@click.option(
    "--report",
    "report_path",
    type=click.Path(path_type=Path),
    help="Write an HTML page of the last apply recorded in the state.",
)
@var_option
@handle_errors
def show(
    planfile: Path | None,
    spec: Path,
    state_path: Path | None,
    lab: bool,
    lab_dir: Path,
    as_json: bool,
    var_pairs: tuple[str, ...],
    report_path: Path | None,
) -> None:
    """Show a saved plan, or the state (sensitive values masked)."""
    if planfile is not None:
        from cozyplan.cli.common import plan_encryption
        from cozyplan.planfile import load_plan

        saved = load_plan(planfile, plan_encryption(spec))
        if as_json:
            click.echo(json.dumps(saved["document"], indent=2))
        else:
            click.echo(saved["text"], nl=False)
        return
    from cozyplan.cli.common import open_store

    store = open_store(spec, state_path, lab, lab_dir)
    if not store.exists() and not as_json and report_path is None:
        from cozyplan.cli.statecmds import no_state_message

        click.echo(no_state_message(store.describe()), err=True)
        return
    state = store.load()
    if report_path is not None:
        from cozyplan.cli.report import write_report

        write_report(report_path, state.last_run, str(spec), store.describe())
        return
    doc: dict[str, Any] = {
        "format_version": "1.0",
        "lineage": state.lineage,
        "serial": state.serial,
        "resources": [
            {
                "address": addr,
                "type": rs.type,
                "provider": rs.provider,
                "status": rs.status,
                "pending": rs.pending is not None,
                "dependencies": rs.dependencies,
                "values": mask(rs.observed, (), rs.sensitive_paths),
            }
            for addr, rs in sorted(state.resources.items())
        ],
    }
    if as_json:
        click.echo(json.dumps(doc, indent=2))
        return
    style = make_styler()
    for res in doc["resources"]:
        click.echo(
            style(f"# {res['address']}", bold=True)
            + (f" ({res['status']})" if res["status"] != "ready" else "")
        )
        for key, value in sorted((res["values"] or {}).items()):
            if value is not None:
                click.echo(f"    {key} = {json.dumps(value)}")
        click.echo("")


@click.command()
@spec_option
@var_option
@click.option(
    "--plan",
    "with_plan",
    is_flag=True,
    help="Plan first (reads the state and the real systems) and colour nodes by action.",
)
@state_option
@lab_options
@handle_errors
def graph(
    spec: Path,
    var_pairs: tuple[str, ...],
    with_plan: bool,
    state_path: Path | None,
    lab: bool,
    lab_dir: Path,
    time_scale: float | None,
) -> None:
    """Print the resource graph in Graphviz DOT (coloured by planned action with --plan)."""
    from cozyplan.instances import expand, instance_graph, resolve_variables
    from cozyplan.plan import Action
    from cozyplan.render.dot import render_dot

    actions: dict[str, Action] | None = None
    extra: dict[str, list[str]] = {}
    with open_session(
        spec, state_path, lab if with_plan else False, lab_dir, time_scale, var_pairs
    ) as session:
        cfg = session.cfg
        instances = expand(cfg, resolve_variables(cfg, session.var_overrides))
        g = instance_graph(cfg, instances)
        if with_plan:
            from cozyplan.cli.runner import make_plan
            from cozyplan.planner import PlanOptions

            plan = make_plan(session, PlanOptions())
            actions = {c.address: c.action for c in plan.changes}
            # what the plan removes is in the state, not in the spec: drawn with its dependencies
            extra = {c.address: c.dependencies for c in plan.changes if c.address not in g}
    click.echo(render_dot(g.nodes, g.edges, actions, extra), nl=False)


@click.command()
@click.option("--out", type=click.Path(path_type=Path), help="Write to a file.")
@handle_errors
def schema(out: Path | None) -> None:
    """Print the JSON Schema of spec files (for editor completion and checks)."""
    from cozyplan.jsonschema import spec_json_schema

    text = json.dumps(spec_json_schema(), indent=2)
    if out is not None:
        out.write_text(text + "\n")
        click.echo(f"Wrote {out}")
        return
    click.echo(text)
    raise Exit(0)
