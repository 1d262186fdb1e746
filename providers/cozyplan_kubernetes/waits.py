"""``wait_for``: when an applied object counts as ready (pure functions on the live object).

* conditions: ``Ready`` / ``Ready=True`` / ``Available=True`` / ``Established`` (status True when
  no value is given), read from ``status.conditions`` and only trusted when the condition's
  ``observedGeneration`` (if any) is current;
* JSONPath equality: ``{.status.phase}=Bound`` (dotted fields and ``[index]``);
* rollout complete for Deployments, DaemonSets and StatefulSets, as ``kubectl rollout status``.

Each check answers ``None`` when satisfied, or a short sentence naming what is not ready yet and
the object's latest message, for the progress lines and the timeout error.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from pydantic import Field, field_validator

from cozyplan.provider import SpecModel

Check = Callable[[dict[str, Any]], str | None]


class WaitFor(SpecModel):
    conditions: list[str] = Field(
        default_factory=list, description="e.g. Available=True, Ready, Established"
    )
    jsonpath: list[str] = Field(default_factory=list, description="e.g. {.status.phase}=Bound")
    rollout: bool = Field(False, description="Deployment/DaemonSet/StatefulSet rollout complete")
    timeout: float = Field(300.0, gt=0, description="seconds before the apply fails")

    @field_validator("conditions")
    @classmethod
    def _conditions(cls, value: list[str]) -> list[str]:
        for item in value:
            parse_condition(item)
        return value

    @field_validator("jsonpath")
    @classmethod
    def _jsonpath(cls, value: list[str]) -> list[str]:
        for item in value:
            parse_jsonpath(item)
        return value


def parse_condition(text: str) -> tuple[str, str]:
    """``Ready`` -> (Ready, True); ``Ready=False`` -> (Ready, False)."""
    name, _, status = text.partition("=")
    name, status = name.strip(), (status.strip() or "True")
    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_.-]*", name):
        raise ValueError(f"condition {text!r}: expected TYPE or TYPE=STATUS, e.g. Ready=True")
    if status not in ("True", "False", "Unknown"):
        raise ValueError(f"condition {text!r}: status must be True, False or Unknown")
    return name, status


_JSONPATH = re.compile(r"^\{(\.[^}]*)\}\s*=\s*(.*)$")
_STEP = re.compile(r"\.([A-Za-z0-9_-]+)|\[(\d+)\]|\['([^']+)'\]")


def parse_jsonpath(text: str) -> tuple[list[str | int], str]:
    """``{.status.phase}=Bound`` -> (["status", "phase"], "Bound")."""
    m = _JSONPATH.match(text.strip())
    if m is None:
        raise ValueError(f"jsonpath {text!r}: expected {{.path.to.field}}=VALUE")
    expr, expected = m.group(1), m.group(2).strip()
    steps: list[str | int] = []
    pos = 0
    while pos < len(expr):
        step = _STEP.match(expr, pos)
        if step is None:
            raise ValueError(f"jsonpath {text!r}: cannot read {expr[pos:]!r}")
        if step.group(2) is not None:
            steps.append(int(step.group(2)))
        else:
            steps.append(step.group(1) or step.group(3))
        pos = step.end()
    return steps, expected


def lookup(obj: Any, steps: list[str | int]) -> Any:
    for step in steps:
        if isinstance(step, int):
            if not isinstance(obj, list) or step >= len(obj):
                return None
            obj = obj[step]
        else:
            if not isinstance(obj, dict):
                return None
            obj = obj.get(step)
    return obj


def _scalar_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def _condition(obj: dict[str, Any], name: str) -> dict[str, Any] | None:
    for cond in (obj.get("status") or {}).get("conditions") or []:
        if isinstance(cond, dict) and cond.get("type") == name:
            return cond
    return None


def condition_check(text: str) -> Check:
    name, want = parse_condition(text)

    def check(obj: dict[str, Any]) -> str | None:
        cond = _condition(obj, name)
        if cond is None:
            return f"condition {name} not reported yet" + _other_failing(obj, name)
        generation = (obj.get("metadata") or {}).get("generation")
        seen = cond.get("observedGeneration")
        if generation is not None and seen is not None and int(seen) < int(generation):
            return f"condition {name} is for generation {seen}, not {generation} yet"
        # as kstatus: conditions of a status the controller wrote for an older spec are stale
        status_seen = (obj.get("status") or {}).get("observedGeneration")
        if _int(status_seen, -1) >= 0 and _int(status_seen) < _int(generation):
            return f"waiting for the controller to observe generation {generation}"
        if cond.get("status") == want:
            return None
        why = cond.get("message") or cond.get("reason") or ""
        return (
            f"{name}={cond.get('status')}"
            + (f": {why}" if why else "")
            + (_other_failing(obj, name) if not why else "")
        )

    return check


def _other_failing(obj: dict[str, Any], awaited: str) -> str:
    """The latest other condition that is False, with its message: often the real reason
    (``PodScheduled=False: 0/3 nodes are available``)."""
    failing = [
        c
        for c in (obj.get("status") or {}).get("conditions") or []
        if isinstance(c, dict) and c.get("type") != awaited and c.get("status") == "False"
    ]
    if not failing:
        return ""
    latest = max(failing, key=lambda c: str(c.get("lastTransitionTime") or ""))
    why = latest.get("message") or latest.get("reason") or ""
    return f" ({latest.get('type')}=False" + (f": {why})" if why else ")")


def jsonpath_check(text: str) -> Check:
    steps, want = parse_jsonpath(text)
    shown = text.split("=", 1)[0].strip()

    def check(obj: dict[str, Any]) -> str | None:
        got = _scalar_text(lookup(obj, steps))
        return None if got == want else f"{shown} is {got or '(unset)'!r}, waiting for {want!r}"

    return check


def _int(value: Any, default: int = 0) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def rollout_status(obj: dict[str, Any]) -> str | None:
    """``kubectl rollout status`` for the three workload kinds (None: complete)."""
    kind = obj.get("kind")
    meta, spec, status = obj.get("metadata") or {}, obj.get("spec") or {}, obj.get("status") or {}
    if _int(status.get("observedGeneration"), -1) < _int(meta.get("generation"), 0):
        return "waiting for the controller to observe the latest generation"
    if kind == "Deployment":
        progressing = _condition(obj, "Progressing")
        if progressing and progressing.get("reason") == "ProgressDeadlineExceeded":
            return f"rollout exceeded its progress deadline: {progressing.get('message', '')}"
        want = _int(spec.get("replicas"), 1)
        updated = _int(status.get("updatedReplicas"))
        if updated < want:
            return f"{updated} of {want} replicas updated"
        if _int(status.get("replicas")) > updated:
            return f"{_int(status.get('replicas')) - updated} old replicas pending termination"
        if _int(status.get("availableReplicas")) < updated:
            return (
                f"{_int(status.get('availableReplicas'))} of {updated} updated replicas available"
            )
        return None
    if kind == "DaemonSet":
        want = _int(status.get("desiredNumberScheduled"))
        updated = _int(status.get("updatedNumberScheduled"))
        if updated < want:
            return f"{updated} of {want} pods updated"
        if _int(status.get("numberAvailable")) < want:
            return f"{_int(status.get('numberAvailable'))} of {want} updated pods available"
        return None
    if kind == "StatefulSet":
        want = _int(spec.get("replicas"), 1)
        if _int(status.get("readyReplicas")) < want:
            return f"{_int(status.get('readyReplicas'))} of {want} pods ready"
        strategy = (spec.get("updateStrategy") or {}).get("type", "RollingUpdate")
        if strategy == "RollingUpdate":
            if _int(status.get("updatedReplicas")) < want:
                return f"{_int(status.get('updatedReplicas'))} of {want} pods updated"
            if status.get("updateRevision") != status.get("currentRevision"):
                return "waiting for the update revision to become current"
        return None
    return f"rollout status is not defined for kind {kind}"


def checks_of(wait: WaitFor) -> list[Check]:
    out = [condition_check(c) for c in wait.conditions]
    out += [jsonpath_check(j) for j in wait.jsonpath]
    if wait.rollout:
        out.append(rollout_status)
    return out


def not_ready(wait: WaitFor | None, obj: dict[str, Any]) -> list[str]:
    """What is not ready yet (empty: ready)."""
    if wait is None:
        return []
    return [reason for check in checks_of(wait) if (reason := check(obj)) is not None]
