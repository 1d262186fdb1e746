"""Progress lines while applying, Terraform style."""

from __future__ import annotations

import asyncio
import sys

import click

from cozyplan.plan import Action
from cozyplan.render.human import Styler
from cozyplan.render.values import scrub

_ING = {
    Action.CREATE: ("Creating", "Creation complete"),
    Action.UPDATE: ("Modifying", "Modifications complete"),
    Action.DELETE: ("Destroying", "Destruction complete"),
    Action.DELETE_THEN_CREATE: ("Replacing", "Replacement complete"),
    Action.CREATE_THEN_DELETE: ("Replacing", "Replacement complete"),
    Action.READ: ("Reading", "Read complete"),
    Action.NOOP: ("Checking", "Check complete"),
}


def _secs(seconds: float) -> str:
    return f"{seconds:.0f}s" if seconds >= 10 else f"{seconds:.1f}s"


class ConsoleProgress:
    def __init__(
        self, style: Styler, secrets: list[str], quiet: bool = False, err: bool = False
    ) -> None:
        self.style = style
        self.secrets = secrets
        self.quiet = quiet
        self.err = err  # to stderr: keeps stdout clean for --json

    def _line(self, text: str) -> None:
        if not self.quiet:
            click.echo(scrub(text, self.secrets), err=self.err)
            (sys.stderr if self.err else sys.stdout).flush()

    def started(self, address: str, action: Action) -> None:
        self._line(f"{self.style(address, bold=True)}: {_ING[action][0]}...")

    def still_running(self, address: str, action: Action, elapsed: float) -> None:
        self._line(
            f"{self.style(address, bold=True)}: Still {_ING[action][0].lower()}... "
            f"[{_secs(elapsed)} elapsed]"
        )

    def finished(self, address: str, action: Action, elapsed: float, ident: str | None) -> None:
        tail = f" [{ident}]" if ident else ""
        self._line(
            f"{self.style(address, bold=True)}: {_ING[action][1]} after {_secs(elapsed)}{tail}"
        )

    def failed(self, address: str, action: Action, elapsed: float, error: BaseException) -> None:
        if isinstance(error, asyncio.CancelledError):  # a second Ctrl-C: not the step's fault
            self._line(
                f"{self.style(address, bold=True)}: "
                + self.style("abandoned", "yellow")
                + f" after {_secs(elapsed)} (its crash marker lets the next apply adopt it)"
            )
            return
        self._line(
            f"{self.style(address, bold=True)}: "
            + self.style("failed", "red")
            + f" after {_secs(elapsed)}"
        )

    def retrying(self, address: str, attempt: int, error: BaseException, wait: float) -> None:
        first = str(error).splitlines()[0] if str(error) else type(error).__name__
        if getattr(error, "expected", False):  # a planned wait (a reboot), not a fault
            self._line(
                f"{self.style(address, bold=True)}: {first} "
                f"(check {attempt}, next in {_secs(wait)})"
            )
            return
        self._line(
            f"{self.style(address, bold=True)}: temporary error (attempt {attempt}), "
            f"retrying in {_secs(wait)}: {first}"
        )

    def message(self, address: str, text: str) -> None:
        self._line(f"{self.style(address, bold=True)}: {text}")
