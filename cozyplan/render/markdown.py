"""A plan as a pull-request comment a reviewer can act on (GitOps review).

Order of the comment: what is destroyed or replaced (and which attribute forces it), counts by
action, one table row per resource, then one collapsible attribute table per resource (open for
destructive ones), drift, warnings, and the spec digest and state lineage/serial the plan was
made against (what ``apply PLANFILE`` checks). Sensitive values are masked here; the CLI also
scrubs every known secret from the text.
"""

from __future__ import annotations

import difflib
import html
import re
from collections.abc import Iterable, Sequence
from typing import Any

from cozyplan import __version__
from cozyplan.diff import Change, ChangeOp
from cozyplan.plan import Action, Reason, ResourceChange
from cozyplan.planner import Drift, Plan
from cozyplan.render.values import SENSITIVE_TEXT, UNKNOWN_TEXT, fmt, is_sensitive, mask
from cozyplan.values import UNKNOWN

#: GitHub refuses comments over 65,536 characters; keep a margin for the surrounding text
COMMENT_BUDGET = 60_000
CELL_LIMIT = 120

_LABEL = {
    Action.CREATE: "create",
    Action.UPDATE: "update",
    Action.DELETE: "destroy",
    Action.DELETE_THEN_CREATE: "replace",
    Action.CREATE_THEN_DELETE: "replace (create first)",
    Action.READ: "refresh",
}
_VERB = {
    Action.CREATE: "will be created",
    Action.UPDATE: "will be updated in place",
    Action.DELETE: "will be destroyed",
    Action.DELETE_THEN_CREATE: "will be replaced (destroyed, then created)",
    Action.CREATE_THEN_DELETE: "will be replaced (created, then the old one destroyed)",
    Action.READ: "will be read",
}
_COUNT_ORDER = (
    ("create", (Action.CREATE,)),
    ("update", (Action.UPDATE,)),
    ("replace", (Action.DELETE_THEN_CREATE, Action.CREATE_THEN_DELETE)),
    ("destroy", (Action.DELETE,)),
)
_OP = {ChangeOp.ADD: "+", ChangeOp.CHANGE: "~", ChangeOp.REMOVE: "-"}


def is_destructive(rc: ResourceChange) -> bool:
    return rc.action is Action.DELETE or rc.action.is_replace


def _code(text: str) -> str:
    """Inline code that survives a table cell: HTML-escaped, pipes as an entity."""
    return "<code>" + html.escape(text, quote=False).replace("|", "&#124;") + "</code>"


def _as_diff(change: Change) -> bool:
    """A change of multi-line text, shown as a unified diff below its table."""
    return not change.sensitive and any(
        isinstance(v, str) and len(v.splitlines()) > 1 for v in (change.before, change.after)
    )


def _cell(value: Any, sensitive: bool, as_diff: bool = False) -> str:
    if value is None:
        return ""
    if sensitive:
        return f"<em>{SENSITIVE_TEXT}</em>"
    if value is UNKNOWN:
        return f"<em>{UNKNOWN_TEXT}</em>"
    if as_diff and isinstance(value, str):
        n = len(value.splitlines())
        return f"<em>({n} line{'' if n == 1 else 's'}, diff below)</em>"
    text = fmt(value)
    if len(text) > CELL_LIMIT:
        text = text[: CELL_LIMIT - 1] + "…"
    return _code(text)


def _fence(body: str, lang: str = "") -> list[str]:
    """A fenced block longer than any run of backticks inside it."""
    longest = max((len(m) for m in re.findall(r"`+", body)), default=0)
    fence = "`" * max(3, longest + 1)
    return [fence + lang, *body.splitlines(), fence]


def _multiline(change: Change) -> list[str]:
    before = change.before if isinstance(change.before, str) else ""
    after = change.after if isinstance(change.after, str) else ""
    lines = difflib.unified_diff(
        before.splitlines(), after.splitlines(), "before", "after", lineterm="", n=2
    )
    return [f"`{change.path_str}`:", "", *_fence("\n".join(list(lines)[2:]), "diff"), ""]


def _why(rc: ResourceChange) -> str:
    forced = [c for c in rc.changes if c.forces_replace]
    if rc.action.is_replace and forced:
        parts = []
        for c in forced:
            text = _code(c.path_str)
            if c.op is ChangeOp.CHANGE:
                text += f" {_cell(c.before, c.sensitive)} → {_cell(c.after, c.sensitive)}"
            parts.append(text)
        return "forced by " + ", ".join(parts)
    if rc.reason is not Reason.NONE:
        return html.escape(rc.reason.value)
    return ""


def _attribute_rows(rc: ResourceChange) -> tuple[list[str], list[str]]:
    """Table rows of the attributes that change, and diff blocks of multi-line values."""
    rows: list[str] = []
    diffs: list[str] = []
    changes: Sequence[Change] = rc.changes
    if rc.action is Action.CREATE:
        after = rc.after or {}
        for name in sorted(after):
            value = after[name]
            if value is None:
                continue
            sens = is_sensitive((name,), rc.sensitive_paths)
            shown = value if sens else mask(value, (name,), rc.sensitive_paths)
            rows.append(f"| + | {_code(name)} | | {_cell(shown, sens)} | |")
        return rows, diffs
    for c in changes:
        note = "**forces replacement**" if c.forces_replace else ""
        rows.append(_change_row(c, note))
        if _as_diff(c):
            diffs.extend(_multiline(c))
    return rows, diffs


def _change_row(c: Change, note: str = "") -> str:
    diff = _as_diff(c)
    return (
        f"| {_OP[c.op]} | {_code(c.path_str)} | {_cell(c.before, c.sensitive, diff)} "
        f"| {_cell(c.after, c.sensitive, diff)} | {note} |"
    )


_TABLE_HEAD = ["| | attribute | before | after | |", "|---|---|---|---|---|"]


def _resource_section(rc: ResourceChange) -> list[str]:
    rows, diffs = _attribute_rows(rc)
    opened = " open" if is_destructive(rc) else ""
    adopting = " (adopting what an interrupted run created)" if rc.adopting else ""
    out = [
        f"<details{opened}><summary><code>{html.escape(rc.address)}</code> "
        f"{_VERB.get(rc.action, rc.action.value)}{adopting}</summary>",
        "",
    ]
    if rows:
        out += [*_TABLE_HEAD, *rows, ""]
    else:
        out += ["_No attribute changes shown._", ""]
    out += diffs
    out += ["</details>", ""]
    return out


def _drift_section(d: Drift) -> list[str]:
    if d.gone:
        return [f"- {_code(d.address)} was deleted outside cozyplan"]
    if d.adopted:
        return [f"- {_code(d.address)} was created by an interrupted run and is adopted"]
    out = [f"- {_code(d.address)} changed outside cozyplan:", ""]
    out += ["  " + line for line in _TABLE_HEAD]
    out += ["  " + _change_row(c) for c in d.changes]
    out.append("")
    for c in d.changes:
        if _as_diff(c):
            out += ["  " + line if line else "" for line in _multiline(c)]
    return out


def _counts_table(changes: Iterable[ResourceChange]) -> list[str]:
    actions = [c.action for c in changes]
    out = ["| action | resources |", "|---|---:|"]
    for label, members in _COUNT_ORDER:
        n = sum(1 for a in actions if a in members)
        if n:
            out.append(f"| {label} | {n} |")
    return out


def _footer(plan: Plan, spec_name: str) -> list[str]:
    return [
        "---",
        f"<sub>spec {_code(spec_name)} sha256 {_code(plan.spec_hash[:16])} · state lineage "
        f"{_code(plan.lineage)} serial {_code(str(plan.serial))} · mode "
        f"{_code(plan.options.mode)} · cozyplan {__version__}. A saved plan applies only "
        "while the spec and the state serial are unchanged.</sub>",
    ]


def render_markdown(plan: Plan, spec_name: str) -> str:
    counts = plan.counts()
    actionable = plan.actionable
    head = [f"### cozyplan plan for {_code(spec_name)}", ""]
    if plan.options.mode == "refresh-only":
        head.append(
            f"**Refresh:** {len(plan.drift)} resource(s) changed outside cozyplan."
            if plan.drift
            else "**No changes.** Nothing has drifted."
        )
    elif not actionable:
        head.append("**No changes.** The real systems match the spec.")
    else:
        head.append(
            f"**Plan: {counts['add']} to add, {counts['change']} to change, "
            f"{counts['destroy']} to destroy.**"
        )
    destructive = [rc for rc in actionable if is_destructive(rc)]
    if destructive:
        head += [
            "",
            f"#### :warning: {len(destructive)} resource(s) will be destroyed or replaced",
            "",
            "| resource | action | why |",
            "|---|---|---|",
        ]
        for rc in destructive:
            head.append(f"| {_code(rc.address)} | **{_LABEL[rc.action]}** | {_why(rc)} |")
    if actionable:
        head += ["", *_counts_table(actionable), ""]
        head += ["#### Resources", "", "| resource | type | action | why |", "|---|---|---|---|"]
        for rc in actionable:
            label = _LABEL.get(rc.action, rc.action.value)
            if is_destructive(rc):
                label = f"**{label}**"
            head.append(f"| {_code(rc.address)} | {_code(rc.type)} | {label} | {_why(rc)} |")
    tail: list[str] = []
    if plan.drift:
        tail += ["", f"#### Drift ({len(plan.drift)})", ""]
        for d in plan.drift:
            tail += _drift_section(d)
    if plan.warnings:
        tail += ["", f"#### Warnings ({len(plan.warnings)})", ""]
        tail += [f"- {html.escape(w)}" for w in plan.warnings]
    tail += ["", *_footer(plan, spec_name)]

    # destructive resources first, so a comment cut short still shows them
    ordered = destructive + [rc for rc in actionable if not is_destructive(rc)]
    budget = COMMENT_BUDGET - len("\n".join(head + tail))
    details: list[str] = []
    left_out = 0
    for rc in ordered:
        section = _resource_section(rc)
        size = len("\n".join(section)) + 1
        if size > budget:
            left_out += 1
            continue
        budget -= size
        details += section
    if details or left_out:
        details = ["", "#### Attribute changes", "", *details]
    if left_out:
        details.append(
            f"_{left_out} resource(s) not detailed: the comment would be too long; "
            "see `cozyplan show PLANFILE`._"
        )
    return "\n".join(head + details + tail) + "\n"
