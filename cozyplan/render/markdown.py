"""A plan summary for a pull-request comment (GitOps review)."""

from __future__ import annotations

from cozyplan.plan import Action
from cozyplan.planner import Plan
from cozyplan.render.human import Styler, drift_block, resource_block

_EMOJI = {
    Action.CREATE: "create",
    Action.UPDATE: "update",
    Action.DELETE: "**destroy**",
    Action.DELETE_THEN_CREATE: "**replace**",
    Action.CREATE_THEN_DELETE: "**replace** (create first)",
    Action.READ: "refresh",
}


def render_markdown(plan: Plan, spec_name: str) -> str:
    plain = Styler(False)
    counts = plan.counts()
    out = [f"### cozyplan plan for `{spec_name}`", ""]
    if not plan.has_changes:
        out.append("**No changes.** The real systems match the spec.")
    else:
        out.append(
            f"**Plan:** {counts['add']} to add, {counts['change']} to change, "
            f"{counts['destroy']} to destroy."
        )
        destructive = [
            c for c in plan.actionable if c.action is Action.DELETE or c.action.is_replace
        ]
        if destructive:
            out.append("")
            out.append(f"> :warning: {len(destructive)} resource(s) will be destroyed or replaced.")
        out += ["", "| action | resource | reason |", "|---|---|---|"]
        for rc in plan.actionable:
            reason = (
                rc.reason.value
                or ", ".join(c.path_str for c in rc.changes if c.forces_replace)
                or ""
            )
            out.append(f"| {_EMOJI.get(rc.action, rc.action.value)} | `{rc.address}` | {reason} |")
    if plan.drift:
        out += ["", f"**Drift:** {len(plan.drift)} resource(s) changed outside cozyplan."]
    details: list[str] = []
    for d in plan.drift:
        details.extend(drift_block(d, plain))
    for rc in plan.actionable:
        details.extend(resource_block(rc, plain))
    if details:
        out += ["", "<details><summary>Details</summary>", "", "```diff"]
        out += [line for line in details]
        out += ["```", "", "</details>"]
    for w in plan.warnings:
        out += ["", f"_Warning: {w}_"]
    return "\n".join(out) + "\n"
