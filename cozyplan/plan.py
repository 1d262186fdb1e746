"""Plan data types and the one pure function that decides what to do with a resource."""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from cozyplan.diff import Change


class Action(enum.StrEnum):
    NOOP = "no-op"
    CREATE = "create"
    UPDATE = "update"
    DELETE_THEN_CREATE = "delete-then-create"
    CREATE_THEN_DELETE = "create-then-delete"
    DELETE = "delete"
    READ = "read"  # refresh-only: state follows the real system

    @property
    def symbol(self) -> str:
        return _SYMBOLS[self]

    @property
    def is_replace(self) -> bool:
        return self in (Action.DELETE_THEN_CREATE, Action.CREATE_THEN_DELETE)

    @property
    def changes_something(self) -> bool:
        return self not in (Action.NOOP, Action.READ)


_SYMBOLS = {
    Action.NOOP: " ",
    Action.CREATE: "+",
    Action.UPDATE: "~",
    Action.DELETE_THEN_CREATE: "-/+",
    Action.CREATE_THEN_DELETE: "+/-",
    Action.DELETE: "-",
    Action.READ: "~",
}


class Reason(enum.StrEnum):
    """Why an action was chosen: for display only, never used for decisions."""

    NONE = ""
    NEW = "not in state"
    GONE = "no longer exists in the real system"
    REMOVED_FROM_SPEC = "removed from the spec"
    REPLACE_REQUESTED = "replacement requested with --replace"
    REPLACE_BY_FIELD = "a changed field forces replacement"
    TAINTED = "a previous create did not finish"
    DESTROY = "destroy requested"
    DEPOSED = "replaced with create-before-destroy; the old object is left to delete"


def decide_action(
    *,
    prior_exists: bool,
    desired_exists: bool,
    changes: Sequence[Change],
    replace_requested: bool = False,
    tainted: bool = False,
    create_before_destroy: bool = False,
) -> tuple[Action, Reason]:
    """What to do with one resource instance. Pure: no I/O, no state, no provider."""
    if not desired_exists:
        if prior_exists:
            return Action.DELETE, Reason.REMOVED_FROM_SPEC
        return Action.NOOP, Reason.NONE
    if not prior_exists:
        return Action.CREATE, Reason.NEW
    replace_action = (
        Action.CREATE_THEN_DELETE if create_before_destroy else Action.DELETE_THEN_CREATE
    )
    if replace_requested:
        return replace_action, Reason.REPLACE_REQUESTED
    if tainted:
        return replace_action, Reason.TAINTED
    if any(c.forces_replace for c in changes):
        return replace_action, Reason.REPLACE_BY_FIELD
    if changes:
        return Action.UPDATE, Reason.NONE
    return Action.NOOP, Reason.NONE


def count_actions(actions: Iterable[Action]) -> dict[str, int]:
    """Terraform's summary: a replacement counts as one add and one destroy."""
    counts = {"add": 0, "change": 0, "destroy": 0}
    for action in actions:
        if action is Action.CREATE or action.is_replace:
            counts["add"] += 1
        if action is Action.DELETE or action.is_replace:
            counts["destroy"] += 1
        if action is Action.UPDATE:
            counts["change"] += 1
    return counts


@dataclass
class ResourceChange:
    """One instance's planned change, as shown to the user and carried to apply."""

    address: str
    type: str
    provider: str
    action: Action
    reason: Reason = Reason.NONE
    changes: list[Change] = field(default_factory=list)
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None
    sensitive_paths: list[tuple[str | int, ...]] = field(default_factory=list)
    dependencies: list[str] = field(default_factory=list)
    adopting: bool = False  # a crashed create left a pending marker: read and adopt
    deposed: list[dict[str, Any]] | None = None  # old objects of a create-before-destroy

    @property
    def is_noop(self) -> bool:
        return not self.action.changes_something
