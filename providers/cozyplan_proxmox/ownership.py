"""Marks on what cozyplan creates, so one state never takes over another's objects.

VMs and templates carry ``cozyplan-lineage=<lineage>`` in their description, API tokens in
their comment. A create that meets an object with another lineage (or no mark) fails unless
the user passed ``--adopt ADDR`` (manage it, marking it ours) or ``--replace ADDR`` (delete
it and create ours); the plan says which before apply. Without a lineage (a provider used
outside the engine) nothing is marked or checked.
"""

from __future__ import annotations

import re

from cozyplan.provider import PermanentError, PlanError

_MARK_RE = re.compile(r"cozyplan-lineage=([0-9A-Za-z-]+)")


def mark(lineage: str) -> str:
    return f"cozyplan-lineage={lineage}"


def owner_of(text: object) -> str | None:
    found = _MARK_RE.search(str(text or ""))
    return found.group(1) if found else None


def with_mark(text: str, lineage: str) -> str:
    """``text`` with this lineage's mark (replacing another mark)."""
    if not lineage:
        return text
    bare = strip_mark(text)
    return f"{bare} [{mark(lineage)}]" if bare else mark(lineage)


def strip_mark(text: str) -> str:
    return re.sub(r"\s*\[?" + _MARK_RE.pattern + r"\]?", "", str(text or "")).strip()


def foreign(lineage: str, text: object) -> str | None:
    """None when the object is ours (or ownership is off); else who owns it, in words."""
    if not lineage:
        return None
    owner = owner_of(text)
    if owner == lineage:
        return None
    return f"the state with lineage {owner}" if owner else "no cozyplan state (no mark)"


def refusal(what: str, owner: str, address_hint: str = "ADDR") -> str:
    return (
        f"{what} already exists and belongs to {owner}: cozyplan never takes over another "
        f"deployment's object silently; run with --adopt {address_hint} to manage it from "
        f"this state, or --replace {address_hint} to delete it and create it anew"
    )


def takeover_note(what: str, owner: str, takeover: str, replace_means: str) -> str:
    if takeover == "adopt":
        return f"adopts {what}, which belongs to {owner} (--adopt)"
    return f"{replace_means} {what}, which belongs to {owner} (--replace)"


def check(what: str, owner: str | None, takeover: str | None, replace_means: str) -> list[str]:
    """Plan time: a refusal (PlanError) or the note of what apply will do."""
    if owner is None:
        return []
    if takeover is None:
        raise PlanError(refusal(what, owner))
    return [takeover_note(what, owner, takeover, replace_means)]


def refuse_at_apply(what: str, owner: str, address: str) -> PermanentError:
    return PermanentError(refusal(what, owner, address))
