"""Where a set of HelmReleases stands: N/M Ready, who is not and why, who blocks whom.

Pure: takes what the bundle asks for (name, namespace, dependsOn) and the live objects.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cozyplan.upstream.cozystack import dependency_levels, helmrelease_depends

_ABSENT = object()
Leaf = tuple[tuple[str, ...], Any]


@dataclass(frozen=True)
class Wanted:
    name: str
    namespace: str
    depends_on: tuple[str, ...]
    #: spec leaves the live object must show (what a ConfigMap change changed), else stale
    expect: tuple[Leaf, ...] = ()

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"


@dataclass(frozen=True)
class Status:
    ready: bool
    message: str  # the Ready condition's message (or why there is none)
    failed: bool  # Ready=False for a reason of its own (not waiting on a dependency)


def _leaves(value: Any, path: tuple[str, ...] = ()) -> dict[tuple[str, ...], Any]:
    if isinstance(value, Mapping) and value:
        out: dict[tuple[str, ...], Any] = {}
        for key, item in value.items():
            out.update(_leaves(item, (*path, str(key))))
        return out
    return {path: value}


def _at(obj: Mapping[str, Any], path: tuple[str, ...]) -> Any:
    cur: Any = obj
    for part in path:
        if not isinstance(cur, Mapping) or part not in cur:
            return _ABSENT
        cur = cur[part]
    return cur


def wanted_of(
    helmreleases: Sequence[Mapping[str, Any]],
    before: Sequence[Mapping[str, Any]] = (),
) -> list[Wanted]:
    """What to wait for; with ``before`` (the render for the previous ConfigMap), each release
    must also show the spec values that changed, so a stale Ready is not taken for done."""
    old = {f"{h['metadata']['namespace']}/{h['metadata']['name']}": h for h in before}
    out = []
    for h in helmreleases:
        key = f"{h['metadata']['namespace']}/{h['metadata']['name']}"
        expect: list[Leaf] = []
        if key in old:
            new_leaves = _leaves({"spec": h.get("spec") or {}})
            old_leaves = _leaves({"spec": old[key].get("spec") or {}})
            expect = [(p, v) for p, v in new_leaves.items() if old_leaves.get(p, _ABSENT) != v]
            expect += [(p, _ABSENT) for p in old_leaves if p not in new_leaves]
        out.append(
            Wanted(
                h["metadata"]["name"],
                h["metadata"]["namespace"],
                tuple(helmrelease_depends(h)),
                tuple(expect),
            )
        )
    return out


def status_of(obj: Mapping[str, Any] | None, expect: Sequence[Leaf] = ()) -> Status:
    if obj is None:
        return Status(False, "not created yet", False)
    for path, value in expect:
        if _at(obj, path) != value:
            return Status(False, "not updated for the new ConfigMap yet", False)
    status = obj.get("status") or {}
    generation = (obj.get("metadata") or {}).get("generation")
    seen = status.get("observedGeneration")
    if generation is not None and seen is not None and int(seen) < int(generation):
        return Status(False, f"generation {generation} not reconciled yet", False)
    for cond in status.get("conditions") or []:
        if cond.get("type") == "Ready":
            message = str(cond.get("message") or cond.get("reason") or "")
            if cond.get("status") == "True":
                return Status(True, message, False)
            waiting = cond.get("reason") == "DependencyNotReady" or "dependency" in message
            failed = cond.get("status") == "False" and not waiting
            return Status(False, message, failed)
    return Status(False, "not reconciled yet", False)


@dataclass(frozen=True)
class Report:
    total: int
    ready: int
    #: not-ready releases in dependency order: (key, message)
    pending: list[tuple[str, str]]
    #: failed release -> the not-ready releases that (transitively) wait on it
    blocks: dict[str, list[str]]

    @property
    def done(self) -> bool:
        return self.ready == self.total

    def line(self, limit: int = 4) -> str:
        text = f"{self.ready}/{self.total} HelmReleases ready"
        if self.pending:
            shown = "; ".join(f"{k}: {m}" for k, m in self.pending[:limit])
            more = f" (+{len(self.pending) - limit} more)" if len(self.pending) > limit else ""
            text += f"; not ready: {shown}{more}"
        return text

    def failure(self, limit: int = 4) -> str:
        """The failed releases, their messages and what each blocks; then anything else."""
        involved = set(self.blocks) | {k for ks in self.blocks.values() for k in ks}
        others = [(k, m) for k, m in self.pending if k not in involved]
        lines = [f"{self.ready}/{self.total} HelmReleases ready"]
        messages = dict(self.pending)
        for key, dependants in self.blocks.items():
            blocked = ", ".join(dependants) if dependants else "nothing else"
            lines.append(f"HelmRelease {key} failed: {messages.get(key, '')}; it blocks: {blocked}")
        if others:
            shown = "; ".join(f"{k}: {m}" for k, m in others[:limit])
            more = f" (+{len(others) - limit} more)" if len(others) > limit else ""
            lines.append(f"also not ready: {shown}{more}")
        return "\n".join(lines)


def report(wanted: Sequence[Wanted], live: Mapping[str, Mapping[str, Any]]) -> Report:
    """``live``: ``namespace/name`` -> HelmRelease object."""
    by_name = {w.name: w for w in wanted}
    levels = dependency_levels([w.name for w in wanted], {w.name: w.depends_on for w in wanted})
    statuses = {w.key: status_of(live.get(w.key), w.expect) for w in wanted}
    ordered = sorted(wanted, key=lambda w: (levels[w.name], w.name))
    pending = [(w.key, statuses[w.key].message) for w in ordered if not statuses[w.key].ready]
    dependants: dict[str, set[str]] = {w.name: set() for w in wanted}
    for w in wanted:
        for dep in w.depends_on:
            if dep in dependants:
                dependants[dep].add(w.name)

    def closure(name: str) -> list[str]:
        seen: set[str] = set()
        stack = [name]
        while stack:
            for nxt in dependants[stack.pop()]:
                if nxt not in seen:
                    seen.add(nxt)
                    stack.append(nxt)
        return [by_name[n].key for n in sorted(seen, key=lambda n: (levels[n], n))]

    blocks = {w.key: closure(w.name) for w in ordered if statuses[w.key].failed}
    ready = sum(1 for s in statuses.values() if s.ready)
    return Report(len(wanted), ready, pending, blocks)
