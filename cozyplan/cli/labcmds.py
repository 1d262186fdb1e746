"""lab up|status|down|reset."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any, TypeVar

import click

from cozyplan.cli.common import DEFAULT_LAB_TIME_SCALE, handle_errors
from cozyplan.errors import CozyplanError
from cozyplan.lab import DEFAULT_LAB_DIR_NAME, LAB_DIR_ENV
from cozyplan.lab.drift import KINDS as DRIFT_KINDS

F = TypeVar("F", bound=Any)


def _dir(f: F) -> F:
    return click.option(
        "--lab-dir",
        type=click.Path(path_type=Path),
        default=DEFAULT_LAB_DIR_NAME,
        envvar=LAB_DIR_ENV,
        show_default=True,
    )(f)


@click.group()
def lab() -> None:
    """The embedded lab: simulated Proxmox VE, Talos nodes and hosts on loopback."""


def _parse_sets(pairs: tuple[str, ...]) -> dict[str, dict[str, object]]:
    out: dict[str, dict[str, object]] = {}
    for pair in pairs:
        key, _, raw = pair.partition("=")
        sim, _, opt = key.partition(".")
        if not raw or not opt:
            raise click.BadParameter(
                f"expected SIMULATOR.OPTION=VALUE, got {pair!r}", param_hint="--set"
            )
        try:
            value: object = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        out.setdefault(sim, {})[opt] = value
    return out


def endpoint_lines(endpoints: list[dict[str, Any]]) -> list[str]:
    """``service  spec-address -> loopback-address``; an address that is its own target (the
    simulator's listening socket itself) says nothing and is left out."""
    return [
        f"  {ep['service']:<10} {ep['host']}:{ep['port']} -> {ep['real_host']}:{ep['real_port']}"
        for ep in endpoints
        if (ep["host"], ep["port"]) != (ep["real_host"], ep["real_port"])
    ]


def _scalar(value: Any) -> bool:
    return not isinstance(value, dict | list)


def status_lines(label: str, value: Any, indent: str) -> list[str]:
    """A simulator's status, all of it (counters, faults, requests, per-node state) as
    indented text: scalars on one line, nested maps and lists below their key."""
    if _scalar(value):
        return [f"{indent}{label} {value}"]
    items = list(value.items()) if isinstance(value, dict) else list(enumerate(value))
    if not items:
        return [f"{indent}{label} none"]
    flat = [(k, v) for k, v in items if _scalar(v)]
    nested = [(k, v) for k, v in items if not _scalar(v)]
    head = ", ".join(f"{k}={v}" if isinstance(value, dict) else str(v) for k, v in flat)
    lines = [f"{indent}{label} {head}".rstrip()]
    for key, sub in nested:
        lines.extend(status_lines(f"{key}:", sub, indent + "    "))
    return lines


@lab.command("up")
@_dir
@click.option(
    "--time-scale",
    type=float,
    default=DEFAULT_LAB_TIME_SCALE,
    show_default=True,
    help="Multiply every simulated delay (1.0 = real-life timings).",
)
@click.option(
    "--set",
    "sets",
    multiple=True,
    metavar="SIM.OPTION=VALUE",
    help="Simulator option, e.g. proxmox.error_rate=0.2.",
)
@handle_errors
def up(lab_dir: Path, time_scale: float, sets: tuple[str, ...]) -> None:
    """Start the lab in the background."""
    from cozyplan.lab.runtime import LabClient, start_background

    info = start_background(lab_dir, time_scale=time_scale, options=_parse_sets(sets))
    status = LabClient(info, lab_dir).status()
    click.echo(f"Lab running in {lab_dir} (pid {info['pid']}, time scale {time_scale}).")
    for line in endpoint_lines(status.get("endpoints", [])):
        click.echo(line)
    click.echo("Use --lab with plan/apply/refresh/destroy to rehearse against it.")


@lab.command("status")
@_dir
@click.option("--json", "as_json", is_flag=True)
@handle_errors
def status(lab_dir: Path, as_json: bool) -> None:
    """Show whether the lab runs, and what it serves."""
    from cozyplan.lab.runtime import LabClient, read_info

    info = read_info(lab_dir)
    if info is None:
        click.echo(f"No lab is running in {lab_dir}.")
        raise SystemExit(3)
    st = LabClient(info, lab_dir).status()
    if as_json:
        click.echo(json.dumps({"pid": info["pid"], **st}, indent=2))
        return
    click.echo(f"Lab running in {lab_dir} (pid {info['pid']}, time scale {st['time_scale']}).")
    for line in endpoint_lines(st.get("endpoints", [])):
        click.echo(line)
    for name, sim in st.get("simulators", {}).items():
        shown = {k: v for k, v in sim.items() if k != "messages"}
        for line in status_lines(f"[{name}]", shown, "  "):
            click.echo(line)
        for message in sim.get("messages") or []:  # what a console would show is wrong
            click.echo(f"    ! {message}")


@lab.command("control")
@_dir
@click.argument("simulator")
@click.argument("settings", nargs=-1, metavar="KEY=VALUE...")
@handle_errors
def control(lab_dir: Path, simulator: str, settings: tuple[str, ...]) -> None:
    """Send a command to a running simulator, e.g. inject or heal a fault:

    cozyplan lab control cozystack fail_release=cozy-cert-manager/cert-manager
    """
    from cozyplan.lab.runtime import LabClient, read_info

    info = read_info(lab_dir)
    if info is None:
        click.echo(f"No lab is running in {lab_dir}.")
        raise SystemExit(3)
    args: dict[str, object] = {}
    for pair in settings:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"expected KEY=VALUE, got {pair!r}", param_hint="SETTINGS")
        args[key] = raw
    click.echo(json.dumps(LabClient(info, lab_dir).control(simulator, args), indent=2))


@lab.command("down")
@_dir
@handle_errors
def down(lab_dir: Path) -> None:
    """Stop the background lab (its world is kept)."""
    from cozyplan.lab.runtime import stop_background

    if stop_background(lab_dir):
        click.echo("Lab stopped.")
    else:
        click.echo(f"No lab is running in {lab_dir}.")


@lab.command("reset")
@_dir
@click.option("--yes", is_flag=True, help="Do not ask.")
@handle_errors
def reset(lab_dir: Path, yes: bool) -> None:
    """Empty the simulated world and the lab's state files."""
    from cozyplan.lab.runtime import read_info

    if read_info(lab_dir) is not None:
        raise CozyplanError("the lab is running: 'cozyplan lab down' first")
    if not lab_dir.exists():
        click.echo("Nothing to reset.")
        return
    if not yes:
        click.confirm(f"Delete the simulated world in {lab_dir}?", abort=True)
    shutil.rmtree(lab_dir)
    click.echo(f"Lab reset: {lab_dir} removed.")


def _drift_help() -> str:
    lines = [f"  {k.name:<12} {k.summary}; refresh shows {k.shows}" for k in DRIFT_KINDS.values()]
    return "\n".join(["\b", *lines])


@lab.command("drift", epilog=_drift_help())
@_dir
@click.option(
    "--time-scale",
    type=float,
    default=DEFAULT_LAB_TIME_SCALE,
    show_default=True,
    help="Time scale of the lab this command starts when none is running.",
)
@click.option("--set", "sets", multiple=True, metavar="KEY=VALUE", help="Override a default.")
@click.argument("kind", type=click.Choice(sorted(DRIFT_KINDS)))
@handle_errors
def drift(lab_dir: Path, time_scale: float, sets: tuple[str, ...], kind: str) -> None:
    """Change the lab out of band, behind cozyplan's back (documented kinds below), so that
    `cozyplan refresh` shows the drift and `cozyplan apply` heals it."""
    from cozyplan.lab.drift import request
    from cozyplan.lab.runtime import lab_session

    overrides: dict[str, object] = {}
    for pair in sets:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"expected KEY=VALUE, got {pair!r}", param_hint="--set")
        overrides[key] = raw
    if not lab_dir.exists():
        raise CozyplanError(f"no lab in {lab_dir}: apply a spec with --lab first")
    simulator, args = request(kind, overrides)
    with lab_session(lab_dir, time_scale=time_scale) as handle:
        handle.control(simulator, args)
    click.echo(f"Drifted ({kind}): {DRIFT_KINDS[kind].summary}.")
    click.echo(f"`cozyplan refresh --lab --detailed-exitcode` shows {DRIFT_KINDS[kind].shows}.")
