"""``cozyplan server``: the warm command server (see ``cozyplan.server``)."""

from __future__ import annotations

import time

import click

from cozyplan.cli.common import handle_errors


@click.group()
def server() -> None:
    """A warm process that runs cozyplan commands without their start-up cost.

    Once started, every cozyplan command of this user and Python environment is run by it
    (forked from a process that has imported everything), the same way, with the same output
    and exit code. COZYPLAN_SERVER=off makes a command run on its own.
    """


@server.command()
@click.option(
    "--idle-timeout",
    type=float,
    default=None,
    metavar="SECONDS",
    help="Exit after this long without a command (default 3 hours).",
)
@handle_errors
def start(idle_timeout: float | None) -> None:
    """Start the server in the background."""
    from cozyplan.server import control
    from cozyplan.server.daemon import DEFAULT_IDLE_TIMEOUT

    began = time.monotonic()
    status = control.start(idle_timeout=idle_timeout or DEFAULT_IDLE_TIMEOUT)
    click.echo(
        f"cozyplan server started (pid {status['pid']}, {status['modules']} modules loaded "
        f"in {time.monotonic() - began:.1f} s) on {status['socket']}"
    )


@server.command()
@handle_errors
def stop() -> None:
    """Stop the server (commands it runs finish first)."""
    from cozyplan.server import control

    status = control.stop()
    if status is None:
        click.echo("no cozyplan server runs")
    else:
        click.echo(f"cozyplan server stopped (pid {status['pid']}, {status['served']} commands)")


@server.command()
@handle_errors
def status() -> None:
    """Whether the server runs, and what it has done. Exit code 3 when none runs."""
    from cozyplan.server import control, socket_path

    info = control.request({"op": "status"})
    if info is None:
        click.echo(f"no cozyplan server runs on {socket_path()}")
        raise SystemExit(3)
    uptime = time.time() - float(info["started"])
    click.echo(
        f"cozyplan server pid {info['pid']} on {info['socket']}\n"
        f"  up {uptime:.0f} s; {info['served']} commands run, {info['running']} running, "
        f"{info['refused']} refused\n"
        f"  {info['modules']} modules, {info['rss_kb'] // 1024} MB resident; exits after "
        f"{info['idle_timeout']:.0f} s idle"
    )
