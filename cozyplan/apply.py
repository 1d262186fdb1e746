"""Applying a plan: the apply graph, one step per resource, state recorded after each step."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable, Hashable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import networkx as nx
from pydantic import ValidationError

from cozyplan.errors import CozyplanError, PermanentError, ProviderError
from cozyplan.instances import Variables
from cozyplan.plan import Action, ResourceChange
from cozyplan.planner import (
    DEPOSED_SUFFIX,
    Evaluator,
    Plan,
    all_sensitive,
    keep_ignored,
    normalise,
)
from cozyplan.progress import NullProgress, ProgressSink
from cozyplan.provider import ApplyContext
from cozyplan.providers import ProviderSet
from cozyplan.render.values import scrub
from cozyplan.retry import RetryPolicy, retrying
from cozyplan.runlog import RunRecorder
from cozyplan.state.model import Pending, ResourceState, State
from cozyplan.state.store import StateStore
from cozyplan.values import contains_unknown
from cozyplan.walk import NodeStatus, WalkResult, walk

TICK = 10.0  # seconds between "still running" lines


@dataclass
class ApplyReport:
    result: WalkResult
    applied: dict[str, Action] = field(default_factory=dict)
    interrupted: bool = False

    @property
    def ok(self) -> bool:
        return self.result.ok and not self.interrupted

    def count(self, status: NodeStatus) -> int:
        return sum(1 for s in self.result.status.values() if s is status)


DESTROY_SUFFIX = " (destroy)"


def apply_graph(plan: Plan, state: State) -> nx.DiGraph:
    """Order the actionable changes, as Terraform does.

    Creates and updates follow their dependencies. A delete-then-create replacement is two
    nodes, ``ADDR (destroy)`` then ``ADDR``, so that dependents are destroyed before what they
    depend on (and created after it). A deleted resource goes after everything that depended on
    it (per the dependencies recorded in state) and before what it depended on is destroyed.
    """
    changes = {c.address: c for c in plan.changes if c.action.changes_something}
    g = nx.DiGraph()
    g.add_nodes_from(changes)

    def destroy_node(addr: str) -> str | None:
        """The node that removes ``addr``'s current object, if this plan removes it."""
        change = changes.get(addr)
        if change is None:
            return None
        if change.action is Action.DELETE:
            return addr
        if change.action is Action.DELETE_THEN_CREATE:
            return addr + DESTROY_SUFFIX
        return None

    for addr, change in changes.items():
        if change.action is Action.DELETE_THEN_CREATE and change.before is not None:
            g.add_edge(addr + DESTROY_SUFFIX, addr)
    for addr, change in changes.items():
        if change.deposed is not None:
            own = addr[: -len(DEPOSED_SUFFIX)]
            if own in changes:
                g.add_edge(own, addr)  # the new object first, then the old one goes
            for dep in change.dependencies:
                if (target := destroy_node(dep)) is not None:
                    g.add_edge(addr, target)
            continue
        if change.action is Action.DELETE:
            continue
        for dep in change.dependencies:
            dep_change = changes.get(dep)
            if dep_change is not None and dep_change.action is not Action.DELETE:
                g.add_edge(dep, addr)
    for addr, rs in state.resources.items():
        mine = changes.get(addr)
        if mine is None:
            continue
        mine_destroy = addr + DESTROY_SUFFIX if addr + DESTROY_SUFFIX in g else None
        for dep in rs.dependencies:
            target = destroy_node(dep)
            if target is None:
                continue
            if mine_destroy is not None:
                g.add_edge(mine_destroy, target)  # dependents are destroyed first
            elif mine.action is Action.DELETE or changes[dep].action is Action.DELETE:
                # addr is deleted, or stops using dep (gone from the spec), before dep goes;
                # an addr that is updated to use a replaced dep waits for its new object instead
                g.add_edge(addr, target)
    return g


class Applier:
    def __init__(
        self,
        plan: Plan,
        state: State,
        store: StateStore,
        resources: ProviderSet,
        variables: Variables,
        *,
        parallelism: int = 10,
        progress: ProgressSink | None = None,
        stop: asyncio.Event | None = None,
        policy: RetryPolicy | None = None,
    ) -> None:
        self.plan = plan
        self.state = state
        self.store = store
        self.resources = resources
        self.variables = variables
        self.parallelism = parallelism
        self.progress: ProgressSink = progress or NullProgress()
        self.stop = stop or asyncio.Event()
        self.policy = policy or RetryPolicy()
        self.run_id = str(uuid.uuid4())
        self.ev = Evaluator(variables, resources, plan.instances or None)
        self.changes: dict[str, ResourceChange] = {c.address: c for c in plan.changes}
        self.applied: dict[str, Action] = {}
        self._checks: set[str] = set()
        operation = "destroy" if plan.options.mode == "destroy" else "apply"
        self.recorder = RunRecorder(self.run_id, operation, parallelism)

    # -- refreshed state first ----------------------------------------------------------------
    def _persist_refresh(self) -> None:
        adopted_now = {d.address for d in self.plan.drift if d.adopted}
        for address, observed in self.plan.refreshed.items():
            rs = self.state.resources.get(address)
            if rs is None:
                continue
            if address in adopted_now and observed is not None:
                # a crashed create (or replace): the object exists, adopt it; an old object a
                # create-before-destroy displaced is kept as deposed until it is deleted
                deposed = [*rs.deposed]
                if address in self.plan.displaced:
                    deposed.append(self.plan.displaced[address])
                adopted = replace(rs, observed=observed, pending=None, deposed=deposed)
                self.store.record(self.state, address, adopted, sync=False)
            elif rs.observed is not None and observed is not None and observed != rs.observed:
                self.store.record(self.state, address, replace(rs, observed=observed), sync=False)
            elif (
                self.plan.options.mode == "refresh-only"
                and rs.observed is not None
                and observed is None
                and not rs.deposed
            ):
                # refresh accepts reality: what was deleted outside cozyplan leaves the state
                self.store.record(self.state, address, None, sync=False)

    async def run(self) -> ApplyReport:
        self._persist_refresh()
        if self.plan.options.mode == "refresh-only":
            return ApplyReport(WalkResult())
        for address, rs in self.state.resources.items():
            if rs.observed is not None:
                self.ev.values[address] = (rs.observed, rs.sensitive_paths)
        graph = apply_graph(self.plan, self.state)
        self._add_checks(graph)
        result = await walk(graph, self._step, parallelism=self.parallelism, stop=self.stop)
        report = ApplyReport(result, dict(self.applied), interrupted=self.stop.is_set())
        if graph.number_of_nodes():
            # the run's timeline, kept in the state for 'show --report'
            planned = {c.address: c.action.value for c in self.plan.changes}
            run = self.recorder.record(graph, result.status, planned, report.interrupted)
            self.state.last_run = run.to_json()
        return report

    def _add_checks(self, graph: nx.DiGraph) -> None:
        """Re-check no-op instances downstream of a change: a new value may reach them."""
        if self.plan.options.mode != "normal" or self.plan.options.targets:
            return
        changed = [
            a
            for a in graph.nodes
            if a in self.changes and self.changes[a].action is not Action.DELETE
        ]
        if not changed:
            return
        for change in self.plan.changes:
            if change.action is Action.NOOP and change.address in self.plan.instances:
                deps = [d for d in change.dependencies if d in graph or d in self._checks]
                if deps:
                    self._checks.add(change.address)
                    graph.add_node(change.address)
                    for d in deps:
                        graph.add_edge(d, change.address)

    # -- one step -----------------------------------------------------------------------------
    async def _step(self, node: Hashable) -> None:
        address = str(node)
        run: Callable[[], Awaitable[str | None]]
        if address.endswith(DESTROY_SUFFIX) and address not in self.changes:
            action = Action.DELETE

            async def run() -> None:
                await self._destroy_for_replace(address[: -len(DESTROY_SUFFIX)], address)

        else:
            change = self.changes[address]
            action = change.action

            def run() -> Awaitable[str | None]:
                return self._apply_one(change)

        started = time.monotonic()
        ticker: asyncio.Task[None] | None = None
        shown = action.changes_something

        async def tick() -> None:
            while True:
                await asyncio.sleep(TICK)
                self.progress.still_running(address, action, time.monotonic() - started)

        self.recorder.step_started(address)
        try:
            if shown:
                self.progress.started(address, action)
                ticker = asyncio.ensure_future(tick())
            ident = await run()
            self.recorder.step_ended(address, self.applied.get(address, action).value)
            if ident is not None or shown:
                elapsed = time.monotonic() - started
                self.progress.finished(address, self.applied.get(address, action), elapsed, ident)
        except BaseException as exc:
            self.recorder.step_ended(address, action.value, scrub(str(exc) or type(exc).__name__))
            if shown or self.applied.get(address):
                self.progress.failed(address, action, time.monotonic() - started, exc)
            raise
        finally:
            if ticker is not None:
                ticker.cancel()

    def _context(self, address: str, pending_state: ResourceState | None) -> ApplyContext:
        async def checkpoint(attrs: Mapping[str, Any]) -> None:
            if pending_state is None or pending_state.pending is None:
                return
            pending_state.pending.attributes.update(dict(attrs))
            self.store.record(self.state, address, pending_state, sync=False)
            await self.store.durable()

        def progress(message: str) -> None:
            self.progress.message(address, message)

        return ApplyContext(address, checkpoint, progress, self.plan.options.takeover(address))

    async def _call(self, address: str, fn: Any) -> Any:
        def on_retry(attempt: int, exc: Exception, wait: float) -> None:
            self.recorder.step_retried(address)
            self.progress.retrying(address, attempt, exc, wait)

        try:
            return await retrying(fn, self.policy, on_retry=on_retry)
        except CozyplanError:
            raise
        except (ValidationError, OSError) as exc:
            raise PermanentError(str(exc)) from exc

    async def _delete(self, node: str, rtype: str, obj: Mapping[str, Any]) -> None:
        """Delete one real object (with retries), as any step that removes one does."""
        resource = self.resources.resource(rtype)
        ctx = self._context(node, None)
        await self._call(node, lambda: resource.apply(Action.DELETE, obj, None, [], ctx))

    async def _delete_deposed(self, change: ResourceChange) -> None:
        """Delete what create-before-destroy replacements left behind, then forget it."""
        own = change.address[: -len(DEPOSED_SUFFIX)]
        for obj in change.deposed or []:
            await self._delete(change.address, change.type, obj)
        rs = self.state.resources.get(own)
        if rs is not None and rs.deposed:
            self.store.record(self.state, own, replace(rs, deposed=[]), sync=False)
        self.applied[change.address] = Action.DELETE

    async def _destroy_for_replace(self, address: str, node: str) -> None:
        """First half of a delete-then-create: remove the old object, keep the entry."""
        rs = self.state.resources.get(address)
        if rs is None or rs.observed is None:
            return
        await self._delete(node, rs.type, rs.observed)
        # gone, but still wanted: the create step that follows makes it anew
        self.store.record(self.state, address, replace(rs, observed=None, pending=None), sync=False)

    async def _apply_one(self, change: ResourceChange) -> str | None:
        address = change.address
        if change.deposed is not None:
            await self._delete_deposed(change)
            return None
        resource = self.resources.resource(change.type)
        rs = self.state.resources.get(address)
        if change.action is Action.DELETE:
            if rs is not None and rs.observed is not None:
                await self._delete(address, change.type, rs.observed)
            self.store.record(self.state, address, None, sync=False)
            self.ev.values.pop(address, None)
            self.applied[address] = Action.DELETE
            return None

        inst = self.plan.instances[address]
        desired, sensitive = self.ev.evaluate(inst)
        desired, errors = normalise(resource, desired)
        if contains_unknown(desired):
            raise PermanentError(
                "some values are still unknown after their dependencies were applied"
            )
        if errors:
            raise PermanentError(
                "; ".join(f"{'.'.join(map(str, loc))}: {msg}" for loc, msg in errors)
            )
        sensitive = all_sensitive(resource.schema(), sensitive)
        prior: dict[str, Any] | None = rs.observed if rs is not None else None
        if (
            change.action is Action.NOOP
            and prior is not None
            and resource.reread_after_dependencies
        ):
            # its dependencies just changed: what it observes (a health check) may have too
            observed = prior
            prior = await self._call(address, lambda: resource.read_attrs(observed)) or prior
        desired = keep_ignored(desired, prior, inst.block.lifecycle.ignore_changes)
        deposed = list(rs.deposed) if rs is not None else []

        def settled(observed: dict[str, Any] | None, left: list[dict[str, Any]]) -> ResourceState:
            return ResourceState(
                change.type,
                change.provider,
                observed,
                desired,
                change.dependencies,
                sensitive,
                "ready",
                None,
                left,
            )

        action = change.action
        changes = change.changes
        if action in (Action.UPDATE, Action.NOOP) and prior is not None:
            changes = resource.plan(
                prior,
                desired,
                ignore=inst.block.lifecycle.ignore_changes,
                sensitive_paths=[tuple(p) for p in sensitive],
            )
            if not changes:
                if rs is not None and (
                    rs.desired != desired or rs.dependencies != change.dependencies
                ):
                    self.store.record(self.state, address, settled(prior, deposed), sync=False)
                return None
            if any(c.forces_replace for c in changes):
                cbd = inst.block.lifecycle.create_before_destroy
                cbd = cbd if cbd is not None else resource.create_before_destroy
                action = Action.CREATE_THEN_DELETE if cbd else Action.DELETE_THEN_CREATE
            else:
                action = Action.UPDATE
            if change.action is Action.NOOP:
                self.progress.started(address, action)
        elif prior is None and action is not Action.CREATE:
            action = Action.CREATE
        record: ResourceState | None = None
        if (action is Action.CREATE or action.is_replace) and resource.crash_marker:
            known = {k: v for k, v in desired.items() if v is not None}
            record = ResourceState(
                change.type,
                change.provider,
                prior,
                desired,
                change.dependencies,
                sensitive,
                rs.status if rs is not None else "ready",
                Pending(
                    "create-before-destroy"
                    if action is Action.CREATE_THEN_DELETE and prior is not None
                    else "create",
                    time.time(),
                    known,
                    self.run_id,
                ),
                deposed,
            )
            # the crash marker must be on disk before anything is created
            self.store.record(self.state, address, record, sync=False)
            await self.store.durable()
        ctx = self._context(address, record)
        created = False
        try:
            if action is Action.CREATE_THEN_DELETE and prior is not None:
                # two steps, so a crash in between leaves the old object recorded as deposed
                result = await self._call(
                    address, lambda: resource.apply(Action.CREATE, None, desired, changes, ctx)
                )
                self.store.record(
                    self.state, address, settled(result, [*deposed, prior]), sync=False
                )
                await self.store.durable()
                created = True  # a failure from here on leaves the old object deposed
                self.ev.values[address] = (result or {}, sensitive)
                await self._delete(address, change.type, prior)
            else:
                result = await self._call(
                    address, lambda: resource.apply(action, prior, desired, changes, ctx)
                )
        except BaseException as exc:
            if (
                not created
                and record is not None
                and isinstance(exc, ProviderError | CozyplanError)
            ):
                # the create failed: whatever it left is adopted and (unless the type says a
                # failed create is safe to finish in place) replaced next time
                if resource.taint_on_failed_create:
                    record.status = "tainted"
                self.store.record(self.state, address, record, sync=False)
            raise
        self.store.record(self.state, address, settled(result, deposed), sync=False)
        self.ev.values[address] = (result or {}, sensitive)
        replaced = change.action is Action.DELETE_THEN_CREATE and action is Action.CREATE
        self.applied[address] = change.action if replaced else action
        ident = None
        if isinstance(result, dict):
            for key in ("id", "vmid", "name"):
                if result.get(key) is not None and [key] not in sensitive:
                    ident = f"{key}={result[key]}"
                    break
        return ident
