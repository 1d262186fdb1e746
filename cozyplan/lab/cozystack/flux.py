"""helm-controller's Ready condition for one HelmRelease, decided as Flux decides it.

Dependencies first (``dependency 'ns/name' is not ready``, reason ``DependencyNotReady``, the
text of helm-controller's ``checkDependencies``), then the install: ``Progressing`` for a while,
then ``InstallSucceeded``, or ``InstallFailed`` with Helm's message when the lab injects a fault.
Pure: the simulator keeps the clock and the fault list.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

Obj = Mapping[str, Any]


@dataclass(frozen=True)
class Decision:
    status: str  # "True" | "False" | "Unknown"
    reason: str
    message: str
    #: the install may start (dependencies Ready, no fault)
    installable: bool = False


def key_of(obj: Obj) -> str:
    meta = obj.get("metadata") or {}
    return f"{meta.get('namespace')}/{meta.get('name')}"


def ready_condition(obj: Obj | None) -> Mapping[str, Any] | None:
    for cond in ((obj or {}).get("status") or {}).get("conditions") or []:
        if cond.get("type") == "Ready":
            return dict(cond)
    return None


def is_ready(obj: Obj | None) -> bool:
    if obj is None:
        return False
    meta, status = obj.get("metadata") or {}, obj.get("status") or {}
    if status.get("observedGeneration") != meta.get("generation"):
        return False
    cond = ready_condition(obj)
    return cond is not None and cond.get("status") == "True"


def dependency_problem(hr: Obj, releases: Mapping[str, Obj]) -> str | None:
    namespace = (hr.get("metadata") or {}).get("namespace")
    for dep in (hr.get("spec") or {}).get("dependsOn") or []:
        name = f"{dep.get('namespace') or namespace}/{dep.get('name')}"
        found = releases.get(name)
        if found is None:
            return (
                f"unable to get '{name}' dependency: helmreleases.helm.toolkit.fluxcd.io "
                f'"{dep.get("name")}" not found'
            )
        if not is_ready(found):
            return f"dependency '{name}' is not ready"
    return None


def decide(hr: Obj, releases: Mapping[str, Obj], fault: str | None, installed: bool) -> Decision:
    """The Ready condition ``hr`` should have now."""
    meta, spec = hr.get("metadata") or {}, hr.get("spec") or {}
    release = f"{meta.get('namespace')}/{spec.get('releaseName') or meta.get('name')}"
    chart = ((spec.get("chart") or {}).get("spec") or {}).get("chart", "")
    problem = dependency_problem(hr, releases)
    if problem is not None:
        return Decision("False", "DependencyNotReady", problem)
    if fault:
        return Decision(
            "False",
            "InstallFailed",
            f"Helm install failed for release {release} with chart {chart}: {fault}",
        )
    if installed:
        return Decision(
            "True",
            "InstallSucceeded",
            f"Helm install succeeded for release {release}.v1 with chart {chart}",
        )
    return Decision("Unknown", "Progressing", "Running 'install' action with timeout of 5m0s", True)
