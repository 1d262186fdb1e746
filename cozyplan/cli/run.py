"""plan, apply, refresh, destroy: the commands. Each opens its session (which starts its lab)
before it imports the engine (``cozyplan.cli.runner``), so the lab's process starts at once."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Any

import click

from cozyplan.cli.common import (
    Exit,
    handle_errors,
    open_session,
    plan_encryption,
    remember_workspace,
    saved_cipher,
    session_options,
)
from cozyplan.errors import CozyplanError


def _targets(f: Any) -> Any:
    return click.option(
        "--target",
        "targets",
        multiple=True,
        metavar="ADDR",
        help="Limit to this resource (and what it depends on). Repeatable.",
    )(f)


_adopt = click.option(
    "--adopt",
    "adopt",
    multiple=True,
    metavar="ADDR",
    help="Let this resource take over an existing object this state did not create. Repeatable.",
)


@click.command()
@session_options
@click.option("--out", type=click.Path(path_type=Path), help="Save the plan to apply it later.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable plan (masked).")
@click.option(
    "--markdown",
    type=click.Path(path_type=Path),
    help="Also write a Markdown summary for a pull-request comment.",
)
@click.option("--detailed-exitcode", is_flag=True, help="Exit 0: no changes, 1: error, 2: changes.")
@_targets
@click.option(
    "--replace",
    "replace",
    multiple=True,
    metavar="ADDR",
    help="Plan to replace this resource even if unchanged (or an existing object this state "
    "did not create). Repeatable.",
)
@_adopt
@click.option("--refresh/--no-refresh", default=True, help="Read the real systems first.")
@click.option("--destroy", is_flag=True, help="Plan to destroy everything in the state.")
@click.option("--refresh-only", is_flag=True, help="Only report drift.")
@click.option("--parallelism", type=int, default=10, show_default=True)
@handle_errors
def plan(
    spec: Path,
    state_path: Path | None,
    lab: bool,
    lab_dir: Path,
    time_scale: float | None,
    var_pairs: tuple[str, ...],
    out: Path | None,
    as_json: bool,
    markdown: Path | None,
    detailed_exitcode: bool,
    targets: tuple[str, ...],
    replace: tuple[str, ...],
    adopt: tuple[str, ...],
    refresh: bool,
    destroy: bool,
    refresh_only: bool,
    parallelism: int,
) -> None:
    """Show what apply would change."""
    mode = "destroy" if destroy else "refresh-only" if refresh_only else "normal"
    with open_session(spec, state_path, lab, lab_dir, time_scale, var_pairs) as session:
        from cozyplan.cli import runner
        from cozyplan.planfile import PlanContext

        options = runner.plan_options(mode, refresh, targets, replace, parallelism, adopt)
        context = PlanContext(
            spec=spec,
            state=session.state_path,
            lab_dir=lab_dir if lab else None,
            time_scale=time_scale,
            variables=session.var_overrides or {},
        )
        code = runner.plan_and_maybe_apply(
            session,
            options,
            do_apply=False,
            auto_approve=False,
            out=out,
            as_json=as_json,
            markdown=markdown,
            detailed=detailed_exitcode,
            context=context,
        )
    raise Exit(code)


@click.command()
@click.argument("planfile", required=False, type=click.Path(path_type=Path))
@session_options
@click.option("--auto-approve", is_flag=True, help="Do not ask for confirmation.")
@_targets
@click.option("--replace", "replace", multiple=True, metavar="ADDR")
@_adopt
@click.option("--refresh/--no-refresh", default=True)
@click.option("--refresh-only", is_flag=True, help="Only accept drift into the state.")
@click.option(
    "--parallelism", type=int, default=10, show_default=True, help="How many steps may run at once."
)
@click.option("--quiet", is_flag=True, help="Print neither the plan nor progress lines.")
@click.option(
    "--report",
    "report_path",
    type=click.Path(path_type=Path),
    help="Write a self-contained HTML page of the run: graph, timeline, critical path.",
)
@handle_errors
def apply(
    planfile: Path | None,
    spec: Path,
    state_path: Path | None,
    lab: bool,
    lab_dir: Path,
    time_scale: float | None,
    var_pairs: tuple[str, ...],
    auto_approve: bool,
    targets: tuple[str, ...],
    replace: tuple[str, ...],
    adopt: tuple[str, ...],
    refresh: bool,
    refresh_only: bool,
    parallelism: int,
    quiet: bool,
    report_path: Path | None,
) -> None:
    """Make the real systems match the spec (or apply a saved plan)."""
    began = time.time()
    saved = None
    options = None
    if planfile is not None:
        from cozyplan.planfile import load_plan, options_of, saved_context

        saved = load_plan(planfile, plan_encryption(spec))
        remember_workspace(saved.get("workspace"))
        made = saved_context(saved, saved_cipher(saved))
        if var_pairs:
            raise CozyplanError(
                "a saved plan applies with the --var values it was made with: drop --var "
                "(or make a new plan with the new values)"
            )
        var_pairs = tuple(f"{k}={v}" for k, v in made.variables.items())
        if made.lab_dir is not None:
            explicit = click.get_current_context().get_parameter_source("lab_dir")
            if explicit is click.core.ParameterSource.COMMANDLINE and lab_dir != made.lab_dir:
                raise CozyplanError(
                    f"the saved plan was made against the lab in {made.lab_dir}, not {lab_dir}"
                )
            lab, lab_dir = True, made.lab_dir
            time_scale = time_scale if time_scale is not None else made.time_scale
        spec = made.spec
        state_path = made.state if state_path is None else state_path
        options = options_of(saved)
        if parallelism != 10:
            options = dataclasses.replace(options, parallelism=parallelism)
    with open_session(spec, state_path, lab, lab_dir, time_scale, var_pairs) as session:
        from cozyplan.cli import runner

        if options is None:
            mode = "refresh-only" if refresh_only else "normal"
            options = runner.plan_options(mode, refresh, targets, replace, parallelism, adopt)
        code = runner.plan_and_maybe_apply(
            session,
            options,
            do_apply=True,
            auto_approve=auto_approve,
            saved=saved,
            quiet=quiet,
        )
        if report_path is not None:
            from cozyplan.cli.report import write_run_report

            write_run_report(report_path, session, since=began)
    raise Exit(code)


@click.command()
@session_options
@click.option("--auto-approve", is_flag=True)
@_targets
@click.option("--parallelism", type=int, default=10, show_default=True)
@handle_errors
def destroy(
    spec: Path,
    state_path: Path | None,
    lab: bool,
    lab_dir: Path,
    time_scale: float | None,
    var_pairs: tuple[str, ...],
    auto_approve: bool,
    targets: tuple[str, ...],
    parallelism: int,
) -> None:
    """Destroy everything cozyplan manages for this spec."""
    with open_session(spec, state_path, lab, lab_dir, time_scale, var_pairs) as session:
        from cozyplan.cli import runner

        options = runner.plan_options("destroy", True, targets, (), parallelism)
        code = runner.plan_and_maybe_apply(
            session, options, do_apply=True, auto_approve=auto_approve
        )
    raise Exit(code)


@click.command()
@session_options
@click.option("--json", "as_json", is_flag=True)
@click.option("--detailed-exitcode", is_flag=True, help="Exit 2 when drift is found.")
@click.option("--parallelism", type=int, default=10, show_default=True)
@handle_errors
def refresh(
    spec: Path,
    state_path: Path | None,
    lab: bool,
    lab_dir: Path,
    time_scale: float | None,
    var_pairs: tuple[str, ...],
    as_json: bool,
    detailed_exitcode: bool,
    parallelism: int,
) -> None:
    """Read every resource, report drift attribute by attribute, update the state."""
    with open_session(spec, state_path, lab, lab_dir, time_scale, var_pairs) as session:
        from cozyplan.cli import runner

        options = runner.plan_options("refresh-only", True, (), (), parallelism)
        drift = runner.refresh_and_report(session, options, as_json=as_json)
    raise Exit(2 if detailed_exitcode and drift else 0)
