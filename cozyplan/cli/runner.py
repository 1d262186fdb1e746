"""What plan, apply, refresh and destroy do once their session is open: plan, ask, apply,
summarise. Apart from the commands (``cozyplan.cli.run``) so that a command opens its session,
and so starts its lab, before it imports the engine."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from pathlib import Path
from typing import Any

import click

from cozyplan.apply import Applier, ApplyReport
from cozyplan.cli.common import report_error, styler
from cozyplan.cli.progress import ConsoleProgress
from cozyplan.errors import CozyplanError
from cozyplan.plan import count_actions
from cozyplan.planfile import PlanContext, check_fresh, save_plan
from cozyplan.planner import Plan, Planner, PlanOptions
from cozyplan.render.human import render_plan
from cozyplan.render.jsonout import plan_document
from cozyplan.render.markdown import render_markdown
from cozyplan.render.values import scrub
from cozyplan.session import Session
from cozyplan.walk import NodeStatus


async def compute_plan(session: Session, options: PlanOptions) -> Plan:
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
                return await compute_plan(session, options)
            finally:
                await close(session)

        return asyncio.run(main())


async def apply_plan(session: Session, plan: Plan, parallelism: int, quiet: bool) -> ApplyReport:
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


def summarise(report: ApplyReport, session: Session, plan: Plan) -> int:
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


async def close(session: Session) -> None:
    if session.resources is not None:
        await session.resources.close()


def plan_and_maybe_apply(
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
                plan = await compute_plan(session, options)
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
                    await apply_plan(session, plan, options.parallelism, quiet=True)
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
                report = await apply_plan(session, plan, options.parallelism, quiet)
                return summarise(report, session, plan)
            finally:
                await close(session)

        try:
            code = asyncio.run(main())
        finally:
            if do_apply:
                session.save()
        return code


def plan_options(
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


def refresh_and_report(session: Session, options: PlanOptions, *, as_json: bool) -> bool:
    """``refresh``: read everything, record it, print the drift; True when there is some."""
    with session.locked("refresh"):

        async def main() -> Plan:
            try:
                found = await compute_plan(session, options)
                await apply_plan(session, found, options.parallelism, quiet=True)
                return found
            finally:
                await close(session)

        try:
            result: Plan = asyncio.run(main())
        finally:
            session.save()
    secrets = session.secrets()
    if as_json:
        click.echo(scrub(json.dumps(plan_document(result), indent=2), secrets))
    else:
        click.echo(scrub(render_plan(result, styler(), recorded=True), secrets), nl=False)
    return bool(result.drift)
