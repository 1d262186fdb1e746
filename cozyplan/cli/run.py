"""plan, apply, refresh, destroy."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import signal
import sys
import time
from pathlib import Path
from typing import Any

import click

from cozyplan.apply import Applier, ApplyReport
from cozyplan.cli.common import (
    Exit,
    handle_errors,
    open_session,
    plan_encryption,
    remember_workspace,
    report_error,
    saved_cipher,
    session_options,
    styler,
)
from cozyplan.cli.progress import ConsoleProgress
from cozyplan.cli.report import write_run_report
from cozyplan.errors import CozyplanError
from cozyplan.plan import count_actions
from cozyplan.planfile import (
    PlanContext,
    check_fresh,
    load_plan,
    options_of,
    save_plan,
    saved_context,
)
from cozyplan.planner import Plan, Planner, PlanOptions
from cozyplan.render.human import render_plan
from cozyplan.render.jsonout import plan_document
from cozyplan.render.markdown import render_markdown
from cozyplan.render.values import scrub
from cozyplan.session import Session
from cozyplan.walk import NodeStatus


def _targets(f: Any) -> Any:
    return click.option(
        "--target",
        "targets",
        multiple=True,
        metavar="ADDR",
        help="Limit to this resource (and what it depends on). Repeatable.",
    )(f)


async def _plan(session: Session, options: PlanOptions) -> Plan:
    assert session.state is not None
    resources = session.provider_set()
    progress = ConsoleProgress(styler(sys.stderr), session.secrets(), err=True)
    planner = Planner(
        session.cfg,
        session.state,
        resources,
        session.variables,
        options,
        session.retry_policy(),
        progress,
    )
    return await planner.plan()


def make_plan(session: Session, options: PlanOptions) -> Plan:
    """Plan under the state lock, for commands that only look at the plan (graph --plan)."""
    with session.locked("plan"):

        async def main() -> Plan:
            try:
                return await _plan(session, options)
            finally:
                await _close(session)

        return asyncio.run(main())


async def _apply(session: Session, plan: Plan, parallelism: int, quiet: bool) -> ApplyReport:
    assert session.state is not None and session.resources is not None
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    main_task = asyncio.current_task()
    interrupts = 0

    def on_interrupt() -> None:
        nonlocal interrupts
        interrupts += 1
        if interrupts == 1:
            click.echo(
                "\nInterrupt received: starting nothing new, waiting for running steps "
                "to finish (Ctrl-C again to abandon them)...",
                err=True,
            )
            stop.set()
        elif main_task is not None:
            main_task.cancel()

    loop.add_signal_handler(signal.SIGINT, on_interrupt)
    loop.add_signal_handler(signal.SIGTERM, on_interrupt)
    progress = ConsoleProgress(styler(), session.secrets(), quiet=quiet)
    applier = Applier(
        plan,
        session.state,
        session.store,
        session.resources,
        session.variables,
        parallelism=parallelism,
        progress=progress,
        stop=stop,
        policy=session.retry_policy(),
    )
    try:
        return await applier.run()
    finally:
        loop.remove_signal_handler(signal.SIGINT)
        loop.remove_signal_handler(signal.SIGTERM)


def _summarise(report: ApplyReport, session: Session, plan: Plan) -> int:
    style = styler()
    secrets = session.secrets()
    for node, exc in report.result.errors.items():
        report_error(CozyplanError(f"{node}: {exc}"), secrets)
    skipped = [str(n) for n, s in report.result.status.items() if s is NodeStatus.SKIPPED]
    if skipped:
        click.echo(f"Skipped because a dependency failed: {', '.join(sorted(skipped))}", err=True)
    not_started = [str(n) for n, s in report.result.status.items() if s is NodeStatus.NOT_STARTED]
    if report.interrupted:
        click.echo(
            f"Interrupted: {len(not_started)} step(s) not started; the state is saved. "
            "Run apply again to finish.",
            err=True,
        )
    done = count_actions(report.applied.values())
    added, changed, destroyed = done["add"], done["change"], done["destroy"]
    if plan.options.mode == "refresh-only":
        click.echo(
            style("Refresh complete!", "green", bold=True)
            + f" {len(plan.drift)} resource(s) updated in the state."
        )
        return 0
    if report.ok:
        verb = "Destroy" if plan.options.mode == "destroy" else "Apply"
        click.echo(
            style(f"{verb} complete!", "green", bold=True)
            + f" Resources: {added} added, {changed} changed, {destroyed} destroyed."
        )
        return 0
    click.echo(
        f"Resources: {added} added, {changed} changed, {destroyed} destroyed before stopping.",
        err=True,
    )
    return 1


async def _close(session: Session) -> None:
    if session.resources is not None:
        await session.resources.close()


def _plan_and_maybe_apply(
    session: Session,
    options: PlanOptions,
    *,
    do_apply: bool,
    auto_approve: bool,
    out: Path | None = None,
    as_json: bool = False,
    markdown: Path | None = None,
    detailed: bool = False,
    saved: dict[str, Any] | None = None,
    quiet: bool = False,
    context: PlanContext | None = None,
) -> int:
    operation = "apply" if do_apply else "plan"
    with session.locked(operation):
        state = session.state
        assert state is not None
        if saved is not None and state.serial == 0 and not state.resources:
            state.lineage = saved["lineage"]  # a plan made against a state not yet written

        async def main() -> int:
            try:
                plan = await _plan(session, options)
                if saved is not None:
                    check_fresh(saved, plan)
                secrets = session.secrets()
                if as_json:
                    click.echo(scrub(json.dumps(plan_document(plan), indent=2), secrets))
                elif saved is None and not quiet:
                    click.echo(scrub(render_plan(plan, styler()), secrets), nl=False)
                if markdown is not None:
                    markdown.write_text(
                        scrub(render_markdown(plan, str(session.spec_path)), secrets)
                    )
                if out is not None:
                    assert context is not None
                    context.sensitive = frozenset(session.variables.sensitive)
                    context.workspace = session.target.workspace
                    context.cipher = session.store.cipher
                    context.encryption = session.store.backend.encryption
                    save_plan(out, plan, context)
                    click.echo(
                        f"\nSaved the plan to {out}. Apply it with 'cozyplan apply {out}'.",
                        err=as_json,
                    )
                if not do_apply:
                    if detailed and plan.has_changes:
                        return 2
                    return 0
                if not plan.has_changes:
                    # nothing to change; still record what refresh learned (noise, adoption)
                    await _apply(session, plan, options.parallelism, quiet=True)
                    return 0
                if not auto_approve and saved is None:
                    click.echo(
                        "\nDo you want to perform these actions? Only 'yes' will be "
                        "accepted to approve."
                    )
                    answer = click.prompt("  Enter a value", default="", show_default=False)
                    if answer.strip() != "yes":
                        click.echo("Apply cancelled.", err=True)
                        return 1
                click.echo("")
                report = await _apply(session, plan, options.parallelism, quiet)
                return _summarise(report, session, plan)
            finally:
                await _close(session)

        try:
            code = asyncio.run(main())
        finally:
            if do_apply:
                session.save()
        return code


def _options(
    mode: str,
    refresh: bool,
    targets: tuple[str, ...],
    replace: tuple[str, ...],
    parallelism: int,
    adopt: tuple[str, ...] = (),
) -> PlanOptions:
    if parallelism < 1:
        raise click.BadParameter("must be at least 1", param_hint="--parallelism")
    return PlanOptions(
        mode=mode,
        refresh=refresh,
        targets=tuple(targets),
        replace=tuple(replace),
        parallelism=parallelism,
        adopt=tuple(adopt),
    )


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
    options = _options(mode, refresh, targets, replace, parallelism, adopt)
    with open_session(spec, state_path, lab, lab_dir, time_scale, var_pairs) as session:
        context = PlanContext(
            spec=spec,
            state=session.state_path,
            lab_dir=lab_dir if lab else None,
            time_scale=time_scale,
            variables=session.var_overrides or {},
        )
        code = _plan_and_maybe_apply(
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
    if planfile is not None:
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
    else:
        mode = "refresh-only" if refresh_only else "normal"
        options = _options(mode, refresh, targets, replace, parallelism, adopt)
    with open_session(spec, state_path, lab, lab_dir, time_scale, var_pairs) as session:
        code = _plan_and_maybe_apply(
            session,
            options,
            do_apply=True,
            auto_approve=auto_approve,
            saved=saved,
            quiet=quiet,
        )
        if report_path is not None:
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
    options = _options("destroy", True, targets, (), parallelism)
    with open_session(spec, state_path, lab, lab_dir, time_scale, var_pairs) as session:
        code = _plan_and_maybe_apply(session, options, do_apply=True, auto_approve=auto_approve)
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
    options = _options("refresh-only", True, (), (), parallelism)
    with open_session(spec, state_path, lab, lab_dir, time_scale, var_pairs) as session:
        with session.locked("refresh"):

            async def main() -> Plan:
                try:
                    plan = await _plan(session, options)
                    await _apply(session, plan, parallelism, quiet=True)
                    return plan
                finally:
                    await _close(session)

            try:
                result: Plan = asyncio.run(main())
            finally:
                session.save()
        secrets = session.secrets()
        if as_json:
            click.echo(scrub(json.dumps(plan_document(result), indent=2), secrets))
        else:
            click.echo(scrub(render_plan(result, styler(), recorded=True), secrets), nl=False)
    raise Exit(2 if detailed_exitcode and result.drift else 0)
