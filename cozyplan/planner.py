"""Planning: refresh what exists, evaluate the spec, and decide one action per instance.

Refresh is part of planning (a refresh-only plan is a plan whose actions are all READ), so drift
detection and normal plans share one code path, as in Terraform.
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import networkx as nx
from pydantic import ValidationError

from cozyplan import registry
from cozyplan.diff import Change, ChangeOp, diff_attrs
from cozyplan.errors import CozyplanError, Diagnostic, PlanError, ProviderError, SpecError
from cozyplan.instances import Instance, Variables, block_of, expand, instance_graph
from cozyplan.plan import Action, Reason, ResourceChange, count_actions, decide_action
from cozyplan.progress import NullProgress, ProgressSink
from cozyplan.provider import Resource, ResourceSchema, merge_computed
from cozyplan.providers import ProviderSet
from cozyplan.retry import RetryPolicy, retrying
from cozyplan.spec.config import Config, model_errors
from cozyplan.spec.expr import ExprError, Index, Ref, evaluate, traverse
from cozyplan.state.model import ResourceState, State
from cozyplan.values import UNKNOWN, contains_unknown

MODES = ("normal", "destroy", "refresh-only")


@dataclass(frozen=True)
class PlanOptions:
    mode: str = "normal"
    refresh: bool = True
    targets: tuple[str, ...] = ()
    replace: tuple[str, ...] = ()
    parallelism: int = 10


@dataclass
class Drift:
    """What changed in the real system since the state was last written."""

    address: str
    type: str
    changes: list[Change]
    gone: bool = False
    adopted: bool = False


@dataclass
class Plan:
    options: PlanOptions
    changes: list[ResourceChange]
    drift: list[Drift]
    lineage: str
    serial: int
    spec_hash: str
    refreshed: dict[str, dict[str, Any] | None] = field(default_factory=dict)
    instances: dict[str, Instance] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    #: address -> the old object a crashed create-before-destroy left (found by refresh)
    displaced: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def actionable(self) -> list[ResourceChange]:
        return [c for c in self.changes if c.action.changes_something]

    @property
    def has_changes(self) -> bool:
        if self.options.mode == "refresh-only":
            return bool(self.drift)
        return bool(self.actionable)

    def counts(self) -> dict[str, int]:
        return count_actions(c.action for c in self.actionable)


class PlanFailed(CozyplanError):
    def __init__(self, errors: Sequence[str]) -> None:
        self.errors = list(errors)
        super().__init__("\n".join(self.errors))


def sensitive_for(
    attr_path: Sequence[str | int], sensitive_paths: Sequence[Sequence[str | int]]
) -> bool:
    path = tuple(attr_path)
    for sp in sensitive_paths:
        sp_t = tuple(sp)
        n = min(len(sp_t), len(path))
        if sp_t[:n] == path[:n]:
            return True
    return False


class FieldError(ExprError):
    """An expression error in one field of a resource body."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


class Evaluator:
    """Evaluates an instance's body against the values known so far."""

    def __init__(
        self,
        variables: Variables,
        resources: ProviderSet,
        instances: Collection[str] | None = None,
    ) -> None:
        self.variables = variables
        self.resources = resources
        #: every instance of the spec: a reference to anything else is an error, not unknown
        self.instances = instances
        # address -> (attributes, sensitive paths)
        self.values: dict[str, tuple[Mapping[str, Any], list[list[str | int]]]] = {}

    def resolver(self, inst: Instance) -> Any:
        def resolve(ref: Ref) -> tuple[Any, bool]:
            root = ref.root
            if root == "var":
                return self.variables.resolve(ref)
            if root == "each":
                if ref.parts[1] == "key":
                    return inst.key, inst.sensitive
                rest = tuple(p.key if isinstance(p, Index) else p for p in ref.parts[2:])
                return traverse(inst.each_value, rest, "each.value"), inst.sensitive
            if root == "count":
                return inst.key, False
            ref = ref.for_instance(inst.key)
            key = ref.instance_key()
            addr = ref.resource_address() if key is None else f"{ref.resource_address()}[{key}]"
            found = self.values.get(addr)
            if found is None:
                if self.instances is not None and addr not in self.instances:
                    block = ref.resource_address()
                    keys = sorted(a[len(block) :] for a in self.instances if block_of(a) == block)
                    raise ExprError(
                        f"{ref.text!r}: {addr} does not exist "
                        f"({block} has {', '.join(keys) or 'no instances'})"
                    )
                return UNKNOWN, False
            attrs, sens = found
            path = ref.attr_path()
            value = traverse(dict(attrs), path, addr)
            cls = registry.resource_class(str(ref.parts[0]))
            schema_sensitive = cls.schema().sensitive_at(path) if cls else False
            return value, sensitive_for(path, sens) or schema_sensitive

        return resolve

    def evaluate(self, inst: Instance) -> tuple[dict[str, Any], list[list[str | int]]]:
        resolve = self.resolver(inst)
        desired: dict[str, Any] = {}
        sensitive: list[list[str | int]] = []
        for key, raw in inst.block.body.items():
            try:
                ev = evaluate(raw, resolve)
            except ExprError as exc:
                raise FieldError(key, str(exc)) from None
            desired[key] = ev.value
            if ev.sensitive:
                sensitive.append([key])
        return desired, sensitive


def keep_ignored(
    desired: dict[str, Any], prior: Mapping[str, Any] | None, ignored: Sequence[str]
) -> dict[str, Any]:
    """``lifecycle.ignore_changes``: those fields keep the real object's values, for the diff,
    for what the provider is asked to write, and for what dependents see."""
    if prior is None or not ignored:
        return desired
    return {**desired, **{name: prior.get(name) for name in ignored if name in prior}}


def all_sensitive(schema: ResourceSchema, flowed: list[list[str | int]]) -> list[list[str | int]]:
    """The schema's sensitive fields, those a secret flowed into, and (when a secret flowed in)
    every computed field too: an output computed from a secret may contain it."""
    out = [list(p) for p in flowed]
    for name, spec in schema.fields.items():
        if (spec.sensitive or (flowed and spec.computed)) and [name] not in out:
            out.append([name])
    return out


def normalise(
    resource: Resource[Any, Any], desired: dict[str, Any]
) -> tuple[dict[str, Any], list[tuple[tuple[str | int, ...], str]]]:
    """Validate and fill defaults; with unknown values, fill defaults only."""
    model = resource.model
    if not contains_unknown(desired):
        try:
            return resource.dump(model.model_validate(desired)), []
        except ValidationError:
            return desired, model_errors(model, desired, defer_templates=False)
    out = dict(desired)
    for name, info in model.model_fields.items():
        if name not in out and not info.is_required():
            out[name] = info.get_default(call_default_factory=True)
    known = {k: v for k, v in out.items() if not contains_unknown(v)}
    errors = [
        (loc, msg)
        for loc, msg in model_errors(model, {**known}, defer_templates=False)
        if loc and loc[0] in known and msg != "required field is missing"
    ]
    return out, errors


class Planner:
    def __init__(
        self,
        cfg: Config,
        state: State,
        resources: ProviderSet,
        variables: Variables,
        options: PlanOptions,
        policy: RetryPolicy | None = None,
        progress: ProgressSink | None = None,
    ) -> None:
        self.cfg = cfg
        self.state = state
        self.resources = resources
        self.variables = variables
        self.options = options
        self.policy = policy or RetryPolicy()
        self.progress: ProgressSink = progress or NullProgress()
        #: address -> the old object a crashed create-before-destroy left behind
        self.displaced: dict[str, dict[str, Any]] = {}

    # -- refresh ------------------------------------------------------------------------------
    async def refresh(self) -> tuple[dict[str, dict[str, Any] | None], list[Drift], list[str]]:
        refreshed: dict[str, dict[str, Any] | None] = {}
        drift: list[Drift] = []
        errors: list[str] = []

        async def read(address: str, rtype: str, attrs: dict[str, Any]) -> dict[str, Any] | None:
            resource = self.resources.resource(rtype)
            return await retrying(
                lambda: resource.read_attrs(attrs),
                self.policy,
                on_retry=lambda n, e, w: self.progress.retrying(address, n, e, w),
            )

        async def one(address: str) -> None:
            rs = self.state.resources[address]
            if not self.options.refresh and rs.pending is None:
                refreshed[address] = rs.observed
                return
            try:
                got, adopted, displaced = await self._read_one(address, rs, read)
            except (ProviderError, ValidationError, OSError) as exc:
                errors.append(f"{address}: reading failed: {exc}")
                return
            refreshed[address] = got
            if displaced is not None:
                self.displaced[address] = displaced
            if adopted:
                drift.append(Drift(address, rs.type, [], adopted=True))
                return
            if rs.observed is None or (rs.pending is not None and got is None):
                return
            if got is None:
                drift.append(Drift(address, rs.type, [], gone=True))
                return
            resource = self.resources.resource(rs.type)
            changes = diff_attrs(
                rs.observed,
                got,
                resource.schema(),
                drift=True,
                sensitive_paths=[tuple(p) for p in rs.sensitive_paths],
            )
            if changes:
                drift.append(Drift(address, rs.type, changes))

        # a pool of `parallelism` workers: no task per resource on big states
        queue = sorted(self.state.resources)
        position = iter(range(len(queue)))

        async def worker() -> None:
            for i in position:
                await one(queue[i])

        workers = min(len(queue), max(1, self.options.parallelism))
        await asyncio.gather(*(worker() for _ in range(workers)))
        drift.sort(key=lambda d: d.address)
        return refreshed, drift, errors

    async def _read_one(
        self, address: str, rs: ResourceState, read: Any
    ) -> tuple[dict[str, Any] | None, bool, dict[str, Any] | None]:
        """(current object, adopted from a crash marker?, old object it displaced)."""
        pending = rs.pending
        if rs.observed is None:
            if pending is None:
                return None, False, None
            found = await read(address, rs.type, pending.attributes)  # a crashed create
            return found, found is not None, None
        current = await read(address, rs.type, rs.observed)
        if pending is None:
            return current, False, None
        if pending.operation == "create-before-destroy":
            # a create-before-destroy replace crashed: if the new object exists it is the
            # current one, and the old one (deposed) still has to be deleted
            new = await read(address, rs.type, pending.attributes)
            if new is not None:
                return new, True, current
            return current, False, None
        if current is None:
            # a delete-then-create replace crashed after deleting the old object
            new = await read(address, rs.type, pending.attributes)
            return new, new is not None, None
        return current, False, None

    # -- plan ---------------------------------------------------------------------------------
    async def plan(self) -> Plan:
        opts = self.options
        instances = expand(self.cfg, self.variables)
        graph = instance_graph(self.cfg, instances)
        refreshed, drift, errors = await self.refresh()
        if errors:
            raise PlanFailed(errors)
        displaced = dict(self.displaced)
        plan = Plan(
            opts,
            [],
            drift,
            self.state.lineage,
            self.state.serial,
            self.cfg.spec_hash,
            refreshed=refreshed,
            instances=instances,
            displaced=displaced,
        )
        if opts.mode == "refresh-only":
            for d in drift:
                rs = self.state.resources[d.address]
                plan.changes.append(
                    ResourceChange(
                        d.address,
                        rs.type,
                        rs.provider,
                        Action.READ,
                        Reason.GONE if d.gone else Reason.NONE,
                        d.changes,
                        before=rs.observed,
                        after=refreshed.get(d.address),
                        sensitive_paths=[tuple(p) for p in rs.sensitive_paths],
                    )
                )
            return plan
        if opts.mode == "destroy":
            self._plan_deletes(plan, set(self.state.resources), Reason.DESTROY)
        else:
            self._plan_instances(plan, instances, graph)
            orphans = set(self.state.resources) - set(instances)
            self._plan_deletes(plan, orphans, Reason.REMOVED_FROM_SPEC)
        self._plan_deposed(plan)
        if opts.targets:
            self._apply_targets(plan, graph)
        self._check_prevent_destroy(plan)
        plan.warnings.extend(self.resources.warnings())
        return plan

    def _plan_instances(
        self, plan: Plan, instances: dict[str, Instance], graph: nx.DiGraph
    ) -> None:
        ev = Evaluator(self.variables, self.resources, instances)
        diags: list[Diagnostic] = []
        for address in nx.topological_sort(graph):
            inst = instances[address]
            block = inst.block
            resource = self.resources.resource(block.type)
            schema = resource.schema()
            try:
                desired, sensitive = ev.evaluate(inst)
            except ExprError as exc:
                field_name = exc.field if isinstance(exc, FieldError) else None
                path = (*block.path, field_name) if field_name else block.path
                diags.append(Diagnostic(str(exc), self.cfg.position(path), address, field_name))
                ev.values[address] = ({}, [])
                continue
            desired, errs = normalise(resource, desired)
            for loc, msg in errs:
                diags.append(
                    Diagnostic(
                        msg,
                        self.cfg.position((*block.path, *loc)),
                        address,
                        ".".join(str(p) for p in loc),
                    )
                )
            sensitive = all_sensitive(schema, sensitive)
            rs = self.state.resources.get(address)
            prior = plan.refreshed.get(address) if rs is not None else None
            desired = keep_ignored(desired, prior, block.lifecycle.ignore_changes)
            changes: list[Change] = []
            try:
                if prior is not None:
                    changes = resource.plan(
                        prior,
                        desired,
                        ignore=block.lifecycle.ignore_changes,
                        sensitive_paths=[tuple(p) for p in sensitive],
                    )
                else:
                    resource.check_plan(None, desired)
            except PlanError as exc:
                path = (*block.path, exc.field) if exc.field else block.path
                diags.append(Diagnostic(exc.message, self.cfg.position(path), address, exc.field))
            plan.warnings.extend(f"{address}: {w}" for w in resource.plan_warnings(desired))
            cbd = block.lifecycle.create_before_destroy
            action, reason = decide_action(
                prior_exists=prior is not None,
                desired_exists=True,
                changes=changes,
                replace_requested=_matches(address, self.options.replace),
                tainted=rs is not None and rs.status == "tainted",
                create_before_destroy=cbd if cbd is not None else resource.create_before_destroy,
            )
            if rs is not None and prior is None and rs.observed is not None:
                reason = Reason.GONE
            if action is Action.CREATE or action.is_replace:
                planned = merge_computed(schema, desired, None)
                shown = diff_attrs(
                    None, planned, schema, sensitive_paths=[tuple(p) for p in sensitive]
                )
                if action is Action.CREATE:
                    changes = shown
            else:
                planned = merge_computed(schema, desired, prior, updating=action is Action.UPDATE)
            adopting = (
                rs is not None
                and rs.observed is None
                and rs.pending is not None
                and prior is not None
            )
            ev.values[address] = (planned, sensitive)
            plan.changes.append(
                ResourceChange(
                    address=address,
                    type=block.type,
                    provider=block.provider,
                    action=action,
                    reason=reason,
                    changes=changes,
                    before=prior,
                    after=planned,
                    sensitive_paths=[tuple(p) for p in sensitive],
                    dependencies=sorted(graph.predecessors(address)),
                    adopting=adopting,
                )
            )
        if diags:
            raise SpecError(diags)

    def _plan_deletes(self, plan: Plan, addresses: set[str], reason: Reason) -> None:
        for address in sorted(addresses):
            rs = self.state.resources[address]
            prior = plan.refreshed.get(address)
            # prior None: already gone (or a crashed create left nothing): just forget it
            removed = [
                Change((k,), ChangeOp.REMOVE, v, None, sensitive_for((k,), rs.sensitive_paths))
                for k, v in sorted((prior or {}).items())
                if v is not None
            ]
            plan.changes.append(
                ResourceChange(
                    address,
                    rs.type,
                    rs.provider,
                    Action.DELETE,
                    reason if prior is not None else Reason.GONE,
                    removed,
                    before=prior,
                    after=None,
                    sensitive_paths=[tuple(p) for p in rs.sensitive_paths],
                    dependencies=list(rs.dependencies),
                )
            )

    def _check_prevent_destroy(self, plan: Plan) -> None:
        """After targeting: only changes that still act can violate prevent_destroy."""
        diags = []
        for change in plan.actionable:
            destroys = change.action is Action.DELETE and change.before is not None
            if not (destroys or change.action.is_replace) or change.deposed is not None:
                continue
            block = self.cfg.resources.get(block_of(change.address))
            if block is None or not block.lifecycle.prevent_destroy:
                continue
            if change.action.is_replace:
                why = ", ".join(c.path_str for c in change.changes if c.forces_replace)
                what = f"this plan would replace it ({why or change.reason.value})"
            else:
                what = f"this plan would destroy it ({change.reason.value})"
            diags.append(
                Diagnostic(
                    f"lifecycle.prevent_destroy is set, but {what}",
                    self.cfg.position((*block.path, "lifecycle")),
                    change.address,
                )
            )
        if diags:
            raise SpecError(diags)

    def _plan_deposed(self, plan: Plan) -> None:
        """Old objects of create-before-destroy replacements that were never deleted."""
        for address, rs in sorted(self.state.resources.items()):
            objects = [*rs.deposed]
            if address in plan.displaced:
                objects.append(plan.displaced[address])
            if not objects:
                continue
            plan.changes.append(
                ResourceChange(
                    deposed_address(address),
                    rs.type,
                    rs.provider,
                    Action.DELETE,
                    Reason.DEPOSED,
                    [],
                    before=objects[-1],
                    after=None,
                    sensitive_paths=[tuple(p) for p in rs.sensitive_paths],
                    dependencies=list(rs.dependencies),
                    deposed=objects,
                )
            )

    def _apply_targets(self, plan: Plan, graph: nx.DiGraph) -> None:
        matched = {c.address for c in plan.changes if _matches(c.address, self.options.targets)}
        keep = set(matched)
        if self.options.mode == "destroy":
            deps_graph = nx.DiGraph()
            for addr, rs in self.state.resources.items():
                deps_graph.add_node(addr)
                for dep in rs.dependencies:
                    deps_graph.add_edge(dep, addr)
            for addr in matched:
                if addr in deps_graph:
                    keep |= nx.descendants(deps_graph, addr)
        else:
            for addr in matched:
                if addr in graph:
                    keep |= nx.ancestors(graph, addr)
        for change in plan.changes:
            if change.address not in keep and change.action.changes_something:
                change.action = Action.NOOP
                change.reason = Reason.NONE
        plan.warnings.append(
            "resource targeting is in effect: the plan may be incomplete; use it for "
            "exceptional situations, not routine changes"
        )


DEPOSED_SUFFIX = " (deposed)"


def deposed_address(address: str) -> str:
    return address + DEPOSED_SUFFIX


def _matches(address: str, patterns: Sequence[str]) -> bool:
    return any(address == p or block_of(address) == p for p in patterns)
