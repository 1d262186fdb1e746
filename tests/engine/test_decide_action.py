"""decide_action is pure: table-driven cases."""

from __future__ import annotations

import pytest

from cozyplan.diff import Change, ChangeOp
from cozyplan.plan import Action, Reason, decide_action

CHANGE = Change(("cores",), ChangeOp.CHANGE, 2, 4)
REPLACING = Change(("vmid",), ChangeOp.CHANGE, 100, 101, forces_replace=True)

CASES = {
    "new": (dict(prior_exists=False, desired_exists=True, changes=[]), Action.CREATE, Reason.NEW),
    "removed": (
        dict(prior_exists=True, desired_exists=False, changes=[]),
        Action.DELETE,
        Reason.REMOVED_FROM_SPEC,
    ),
    "absent both": (
        dict(prior_exists=False, desired_exists=False, changes=[]),
        Action.NOOP,
        Reason.NONE,
    ),
    "equal": (dict(prior_exists=True, desired_exists=True, changes=[]), Action.NOOP, Reason.NONE),
    "in place": (
        dict(prior_exists=True, desired_exists=True, changes=[CHANGE]),
        Action.UPDATE,
        Reason.NONE,
    ),
    "forces": (
        dict(prior_exists=True, desired_exists=True, changes=[CHANGE, REPLACING]),
        Action.DELETE_THEN_CREATE,
        Reason.REPLACE_BY_FIELD,
    ),
    "forces cbd": (
        dict(
            prior_exists=True, desired_exists=True, changes=[REPLACING], create_before_destroy=True
        ),
        Action.CREATE_THEN_DELETE,
        Reason.REPLACE_BY_FIELD,
    ),
    "requested": (
        dict(prior_exists=True, desired_exists=True, changes=[], replace_requested=True),
        Action.DELETE_THEN_CREATE,
        Reason.REPLACE_REQUESTED,
    ),
    "tainted": (
        dict(prior_exists=True, desired_exists=True, changes=[], tainted=True),
        Action.DELETE_THEN_CREATE,
        Reason.TAINTED,
    ),
    "requested but new": (
        dict(prior_exists=False, desired_exists=True, changes=[], replace_requested=True),
        Action.CREATE,
        Reason.NEW,
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_decide_action(case: str) -> None:
    kwargs, action, reason = CASES[case]
    assert decide_action(**kwargs) == (action, reason)  # type: ignore[arg-type]
