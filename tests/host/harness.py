"""A tiny stand-in for the engine's per-resource loop: read -> diff -> decide -> apply."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from cozyplan.diff import Change
from cozyplan.plan import Action, decide_action
from cozyplan.provider import ApplyContext, Resource


@dataclass
class Outcome:
    action: Action
    state: dict[str, Any] | None
    changes: list[Change]
    progress: list[str] = field(default_factory=list)


async def plan(
    res: Resource[Any, Any], state: dict[str, Any] | None, body: dict[str, Any]
) -> tuple[Action, list[Change], dict[str, Any] | None, dict[str, Any]]:
    desired = res.dump(res.parse(body))
    observed = await res.read_attrs(state) if state is not None else None
    changes = res.plan(observed, desired) if observed is not None else []
    action, _ = decide_action(
        prior_exists=observed is not None, desired_exists=True, changes=changes
    )
    return action, changes, observed, desired


async def converge(
    res: Resource[Any, Any], state: dict[str, Any] | None, body: dict[str, Any]
) -> Outcome:
    action, changes, observed, desired = await plan(res, state, body)
    progress: list[str] = []
    if action is Action.NOOP:
        return Outcome(action, observed, changes, progress)
    ctx = ApplyContext(res.type_name, progress=progress.append)
    new = await res.apply(action, observed, desired, changes, ctx)
    return Outcome(action, new, changes, progress)


async def destroy(res: Resource[Any, Any], state: dict[str, Any]) -> None:
    await res.apply(Action.DELETE, state, None, [], ApplyContext(res.type_name))
