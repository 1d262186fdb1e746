"""Terraform-style human output: ``+ ~ - -/+`` symbols, colours, masked secrets."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import click

from cozyplan.diff import Change, ChangeOp
from cozyplan.plan import Action, Reason, ResourceChange
from cozyplan.render.values import SENSITIVE_TEXT, fmt, is_sensitive, pem_summary, summarise_pem

if TYPE_CHECKING:  # annotations only: rendering must not load the planner (networkx, asyncio)
    from cozyplan.planner import Drift, Plan

_COLOURS = {
    Action.CREATE: "green",
    Action.UPDATE: "yellow",
    Action.DELETE: "red",
    Action.DELETE_THEN_CREATE: "magenta",
    Action.CREATE_THEN_DELETE: "magenta",
    Action.READ: "cyan",
}

_VERBS = {
    Action.CREATE: "will be created",
    Action.UPDATE: "will be updated in-place",
    Action.DELETE: "will be destroyed",
    Action.DELETE_THEN_CREATE: "must be replaced",
    Action.CREATE_THEN_DELETE: "must be replaced (create before destroy)",
    Action.READ: "will be read",
}

_OP_SYMBOL = {ChangeOp.ADD: "+", ChangeOp.CHANGE: "~", ChangeOp.REMOVE: "-"}


class Styler:
    def __init__(self, colour: bool) -> None:
        self.colour = colour

    def __call__(self, text: str, fg: str | None = None, bold: bool = False) -> str:
        if not self.colour:
            return text
        return click.style(text, fg=fg, bold=bold)


def _value(change_value: Any, sensitive: bool) -> str:
    if sensitive and change_value is not None:
        return SENSITIVE_TEXT
    if isinstance(change_value, str):
        summary = pem_summary(change_value)
        if summary is not None:
            return summary  # a certificate is told apart by its fingerprint, not its base64
    return fmt(summarise_pem(change_value))


def _multiline_diff(before: str, after: str, indent: str) -> list[str]:
    lines = difflib.unified_diff(
        before.splitlines(), after.splitlines(), "before", "after", lineterm="", n=2
    )
    return [f"{indent}  {line}" for line in list(lines)[2:]]


def change_lines(change: Change, style: Styler, indent: str = "      ") -> list[str]:
    sym = _OP_SYMBOL[change.op]
    colour = {"+": "green", "~": "yellow", "-": "red"}[sym]
    head = f"{indent}{style(sym, colour)} {change.path_str}"
    note = style("  # forces replacement", "magenta") if change.forces_replace else ""
    if change.op is ChangeOp.ADD:
        return [f"{head} = {_value(change.after, change.sensitive)}{note}"]
    if change.op is ChangeOp.REMOVE:
        return [f"{head} = {_value(change.before, change.sensitive)}{note}"]
    b, a = change.before, change.after
    if (
        not change.sensitive
        and isinstance(b, str)
        and isinstance(a, str)
        and ("\n" in b or "\n" in a)
        and pem_summary(b) is None
        and pem_summary(a) is None
    ):
        return [f"{head}:{note}", *_multiline_diff(b, a, indent + "    ")]
    return [f"{head}: {_value(b, change.sensitive)} -> {_value(a, change.sensitive)}{note}"]


def resource_block(rc: ResourceChange, style: Styler) -> list[str]:
    colour = _COLOURS.get(rc.action)
    verb = _VERBS.get(rc.action, rc.action.value)
    reason = f" ({rc.reason.value})" if rc.reason not in (Reason.NONE, Reason.NEW) else ""
    if rc.adopting:
        reason += " (adopting an object a crashed run created)"
    lines = [style(f"  # {rc.address} {verb}{reason}", bold=True)]
    lines.append(f"{style(rc.action.symbol.rjust(3), colour, bold=True)} {rc.address}")
    if rc.action is Action.DELETE:
        shown = [c for c in rc.changes if c.path[0] in ("id", "name", "vmid", "path", "node")]
        for c in shown or rc.changes[:3]:
            lines.extend(change_lines(c, style))
    elif rc.action is Action.CREATE:
        for name, value in sorted((rc.after or {}).items()):
            if value is None:
                continue
            sens = is_sensitive((name,), rc.sensitive_paths)
            lines.append(f"      {style('+', 'green')} {name} = {_value(value, sens)}")
    else:
        for c in rc.changes:
            lines.extend(change_lines(c, style))
        if rc.action.is_replace:
            shown_names = {c.path[0] for c in rc.changes}
            for name, value in sorted((rc.after or {}).items()):
                if name in shown_names or value is None:
                    continue
                before = (rc.before or {}).get(name)
                if before != value:
                    sens = is_sensitive((name,), rc.sensitive_paths)
                    lines.append(
                        f"      {style('~', 'yellow')} {name}: "
                        f"{_value(before, sens)} -> {_value(value, sens)}"
                    )
    lines.append("")
    return lines


def drift_block(d: Drift, style: Styler) -> list[str]:
    if d.gone:
        return [style(f"  # {d.address} has been deleted outside cozyplan", bold=True), ""]
    if d.adopted:
        return [
            style(f"  # {d.address} was created by an interrupted run and is adopted", bold=True),
            "",
        ]
    lines = [style(f"  # {d.address} has changed outside cozyplan", bold=True)]
    for c in d.changes:
        lines.extend(change_lines(c, style))
    lines.append("")
    return lines


def render_drift(drift: Iterable[Drift], style: Styler) -> list[str]:
    """Real drift, then (apart: cozyplan made them) what an interrupted run created."""
    items = list(drift)
    outside = [d for d in items if not d.adopted]
    adopted = [d for d in items if d.adopted]
    lines: list[str] = []
    if outside:
        lines += [style("Objects have changed outside of cozyplan:", bold=True), ""]
        for d in outside:
            lines.extend(drift_block(d, style))
    if adopted:
        lines += [style("Objects an interrupted run of cozyplan created:", bold=True), ""]
        for d in adopted:
            lines.extend(drift_block(d, style))
    return lines


def render_plan(plan: Plan, style: Styler, *, recorded: bool = False) -> str:
    """The plan as text. ``recorded``: a refresh that already wrote the drift into the state
    (``cozyplan refresh``), not a proposal (``plan --refresh-only``)."""
    lines: list[str] = []
    mode = plan.options.mode
    lines.extend(render_drift(plan.drift, style))
    if mode == "refresh-only":
        if not plan.drift:
            lines.append(
                style("No changes.", "green", bold=True)
                + " The real systems match the state; nothing has drifted."
            )
        elif recorded:
            lines.append(
                f"Refresh found drift in {len(plan.drift)} resource(s) and recorded it in the "
                "state; 'cozyplan apply' brings them back to the spec (or change the spec to "
                "match)."
            )
        else:
            lines.append(
                f"Refresh found drift in {len(plan.drift)} resource(s); "
                "'cozyplan apply' brings them back to the spec, "
                "'cozyplan apply --refresh-only' accepts them into the state."
            )
        return "\n".join(lines) + "\n"
    actionable = plan.actionable
    if not actionable:
        lines.append(style("No changes.", "green", bold=True) + " The real systems match the spec.")
        for w in plan.warnings:
            lines.append(style(f"Warning: {w}", "yellow"))
        return "\n".join(lines) + "\n"
    if any(not d.adopted for d in plan.drift):
        lines.append("Unless the spec is changed to match, cozyplan will undo these changes.")
        lines.append("")
    lines.append("cozyplan will perform the following actions:")
    lines.append("")
    for rc in actionable:
        lines.extend(resource_block(rc, style))
    counts = plan.counts()
    lines.append(
        style(
            f"Plan: {counts['add']} to add, {counts['change']} to change, "
            f"{counts['destroy']} to destroy.",
            bold=True,
        )
    )
    for w in plan.warnings:
        lines.append(style(f"Warning: {w}", "yellow"))
    return "\n".join(lines) + "\n"
