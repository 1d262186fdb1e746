"""Writing the HTML picture of an apply (``apply --report``, ``show --report``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from cozyplan.errors import CozyplanError
from cozyplan.render.report import render_report
from cozyplan.runlog import RunRecord
from cozyplan.session import Session


def write_report(
    path: Path, last_run: dict[str, Any] | None, title: str, state: Path | str
) -> None:
    if last_run is None:
        raise CozyplanError(f"no apply is recorded in {state} yet: nothing to draw")
    try:
        run = RunRecord.from_json(last_run)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise CozyplanError(
            f"the last run recorded in {state} is malformed ({type(exc).__name__}: {exc}); "
            "the next apply records a new one"
        ) from None
    path.write_text(render_report(run, title))
    click.echo(f"Wrote the report of run {run.run_id} ({len(run.steps)} steps) to {path}", err=True)


def write_run_report(path: Path, session: Session, since: float) -> None:
    """The report of the run this command just made, if it changed anything."""
    last = session.state.last_run if session.state is not None else None
    if last is None or float(last["started"]) < since - 0.001:  # an older run
        click.echo(f"Nothing was applied: no report written to {path}.", err=True)
        return
    write_report(path, last, str(session.spec_path), session.state_path)
