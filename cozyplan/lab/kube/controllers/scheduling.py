"""Where a pod may run: node taints against the pod's tolerations, and its nodeSelector."""

from __future__ import annotations

from typing import Any

Obj = dict[str, Any]
_BLOCKING = ("NoSchedule", "NoExecute")


def tolerates(tolerations: list[Obj], taint: Obj) -> bool:
    for t in tolerations:
        if t.get("effect") and t.get("effect") != taint.get("effect"):
            continue
        if t.get("operator") == "Exists":
            if not t.get("key") or t.get("key") == taint.get("key"):
                return True
        elif t.get("key") == taint.get("key") and t.get("value", "") == taint.get("value", ""):
            return True
    return False


def untolerated(node: Obj, pod_spec: Obj) -> list[Obj]:
    tolerations = pod_spec.get("tolerations") or []
    return [
        t
        for t in (node.get("spec") or {}).get("taints") or []
        if t.get("effect") in _BLOCKING and not tolerates(tolerations, t)
    ]


def fits(node: Obj, pod_spec: Obj) -> bool:
    labels = node["metadata"].get("labels") or {}
    selector = pod_spec.get("nodeSelector") or {}
    if any(labels.get(k) != v for k, v in selector.items()):
        return False
    if (node.get("spec") or {}).get("unschedulable"):
        return False
    return not untolerated(node, pod_spec)


def unschedulable_message(nodes: list[Obj], pod_spec: Obj) -> str:
    """The scheduler's FailedScheduling text, e.g. ``0/1 nodes are available: 1 node(s) had
    untolerated taint {node.kubernetes.io/not-ready: }. ...``."""
    reasons: dict[str, int] = {}
    for node in nodes:
        bad = untolerated(node, pod_spec)
        if bad:
            taint = bad[0]
            text = f"node(s) had untolerated taint {{{taint.get('key')}: {taint.get('value', '')}}}"
        else:
            text = "node(s) didn't match Pod's node affinity/selector"
        reasons[text] = reasons.get(text, 0) + 1
    n = len(nodes)
    parts = ", ".join(f"{count} {text}" for text, count in sorted(reasons.items()))
    head = f"0/{n} nodes are available" + (f": {parts}." if parts else ".")
    return (
        f"{head} preemption: 0/{n} nodes are available: {n} Preemption is not helpful for "
        "scheduling."
    )
