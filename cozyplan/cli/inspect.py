"""validate, show, graph, schema."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from cozyplan.cli.common import (
    Exit,
    handle_errors,
    open_session,
    parse_vars,
    spec_option,
    state_option,
    var_option,
)
from cozyplan.cli.common import styler as make_styler
from cozyplan.errors import Diagnostic, SpecError
from cozyplan.instances import expand, instance_graph, resolve_variables
from cozyplan.jsonschema import spec_json_schema
from cozyplan.planfile import load_plan
from cozyplan.render.values import mask
from cozyplan.spec.config import load_config


@click.command()
@spec_option
@var_option
@handle_errors
def validate(spec: Path, var_pairs: tuple[str, ...]) -> None:
    """Check the spec: fields, types, references, cycles. Talks to nothing.

    With --var, also check that each NAME is a declared variable.
    """
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
) -> None:
    """Show a saved plan, or the state (sensitive values masked)."""
    if planfile is not None:
        from cozyplan.cli.common import plan_encryption

        saved = load_plan(planfile, plan_encryption(spec))
        if as_json:
            click.echo(json.dumps(saved["document"], indent=2))
        else:
            click.echo(saved["text"], nl=False)
        return
    from cozyplan.cli.common import open_store

    store = open_store(spec, state_path, lab, lab_dir)
    if not store.exists() and not as_json:
        from cozyplan.cli.statecmds import no_state_message

        click.echo(no_state_message(store.describe()), err=True)
        return
    state = store.load()
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
@handle_errors
def graph(spec: Path, var_pairs: tuple[str, ...]) -> None:
    """Print the resource graph in Graphviz DOT."""
    with open_session(spec, None, False, Path(".lab"), None, var_pairs) as session:
        cfg = session.cfg
        instances = expand(cfg, resolve_variables(cfg, session.var_overrides))
        g = instance_graph(cfg, instances)
    click.echo("digraph cozyplan {")
    click.echo('  rankdir = "LR";')
    click.echo("  node [shape = box];")
    for node in sorted(g.nodes):
        click.echo(f'  "{node}";')
    for a, b in sorted(g.edges):
        click.echo(f'  "{a}" -> "{b}";')
    click.echo("}")


@click.command()
@click.option("--out", type=click.Path(path_type=Path), help="Write to a file.")
@handle_errors
def schema(out: Path | None) -> None:
    """Print the JSON Schema of spec files (for editor completion and checks)."""
    text = json.dumps(spec_json_schema(), indent=2)
    if out is not None:
        out.write_text(text + "\n")
        click.echo(f"Wrote {out}")
        return
    click.echo(text)
    raise Exit(0)
