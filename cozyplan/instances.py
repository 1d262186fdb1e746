"""Variables, ``for_each``/``count`` expansion, and the instance-level dependency graph."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import networkx as nx

from cozyplan import registry
from cozyplan.errors import Diagnostic, SpecError
from cozyplan.spec.config import Config, ResourceBlock
from cozyplan.spec.expr import ExprError, Ref, evaluate

InstanceKey = str | int | None


def instance_address(block_address: str, key: InstanceKey) -> str:
    if key is None:
        return block_address
    return f"{block_address}[{key}]"


def block_of(address: str) -> str:
    return address.split("[", 1)[0]


@dataclass(frozen=True)
class Instance:
    address: str
    block: ResourceBlock
    key: InstanceKey
    each_value: Any = None
    #: the for_each came from a sensitive value: each.key/each.value are sensitive too
    sensitive: bool = False
    #: this instance's own body when the resource type split the block (``split_instances``)
    body: dict[str, Any] | None = None


@dataclass
class Variables:
    values: dict[str, Any]
    sensitive: set[str]

    def resolve(self, ref: Ref) -> tuple[Any, bool]:
        name = str(ref.parts[1])
        value = self.values[name]
        rest = ref.parts[2:]
        from cozyplan.spec.expr import Index, traverse

        path = tuple(p.key if isinstance(p, Index) else p for p in rest)
        return traverse(value, path, f"var.{name}"), name in self.sensitive

    def sensitive_values(self) -> list[str]:
        """Every sensitive value as text (nested values flattened), for scrubbing."""
        from cozyplan.render.values import KNOWN_SECRETS, remember_secret

        for name in self.sensitive:
            remember_secret(self.values.get(name))
        return sorted(KNOWN_SECRETS)


def resolve_variables(cfg: Config, overrides: Mapping[str, str] | None = None) -> Variables:
    overrides = overrides or {}
    values: dict[str, Any] = {}
    sensitive: set[str] = set()
    diags: list[Diagnostic] = []
    for name in overrides:
        if name not in cfg.variables:
            diags.append(Diagnostic(f"--var {name}: no such variable in {cfg.file}"))
    for name, var in cfg.variables.items():
        if var.sensitive:
            sensitive.add(name)
        if name in overrides:
            values[name] = overrides[name]
            continue
        if var.env and var.env in os.environ:
            values[name] = os.environ[var.env]
            continue
        if var.file:
            path = Path(os.path.expanduser(var.file))
            if not path.is_absolute():
                path = cfg.base_dir / path
            if path.exists():
                values[name] = path.read_text().strip()
                continue
        if "default" in var.model_fields_set:
            values[name] = var.default
            continue
        sources = []
        if var.env:
            sources.append(f"environment variable {var.env}")
        if var.file:
            sources.append(f"file {var.file}")
        sources.append(f"--var {name}=...")
        diags.append(
            Diagnostic(
                f"variable {name!r} has no value: set {' or '.join(sources)}, or give it a default",
                cfg.position(("variables", name)),
            )
        )
    if diags:
        raise SpecError(diags)
    found = Variables(values, sensitive)
    found.sensitive_values()  # registered for scrubbing before anything can print them
    return found


def expand(cfg: Config, variables: Variables) -> dict[str, Instance]:
    """All resource instances of the spec, keyed by address."""
    out: dict[str, Instance] = {}
    diags: list[Diagnostic] = []
    for block in cfg.resources.values():
        path = block.path
        try:
            if block.for_each is not None:
                evaluated = evaluate(block.for_each, _only_vars(variables))
                fe = evaluated.value
                if isinstance(fe, list):
                    if not all(isinstance(k, str | int) for k in fe):
                        raise ExprError("for_each list items must be strings")
                    fe = {str(k): str(k) for k in fe}
                if not isinstance(fe, dict):
                    raise ExprError(f"for_each must be a map or list, got {type(fe).__name__}")
                for key, value in fe.items():
                    addr = instance_address(block.address, str(key))
                    out[addr] = Instance(addr, block, str(key), value, evaluated.sensitive)
            elif block.count is not None:
                count = evaluate(block.count, _only_vars(variables)).value
                try:
                    n = int(count)
                except (TypeError, ValueError):
                    raise ExprError(f"count must be a whole number, got {count!r}") from None
                if n < 0:
                    raise ExprError("count must not be negative")
                for i in range(n):
                    addr = instance_address(block.address, i)
                    out[addr] = Instance(addr, block, i, i)
            elif (split := _split(block, cfg.base_dir)) is not None:
                for key, body in split.items():
                    addr = instance_address(block.address, key)
                    out[addr] = Instance(addr, block, key, None, False, body)
            else:
                out[block.address] = Instance(block.address, block, None)
        except _SplitError as exc:
            diags.append(Diagnostic(str(exc), cfg.position(path), block.address))
        except ExprError as exc:
            key = "for_each" if block.for_each is not None else "count"
            diags.append(Diagnostic(str(exc), cfg.position((*path, key)), block.address, key))
    if diags:
        raise SpecError(diags)
    return out


class _SplitError(Exception):
    pass


def _split(block: ResourceBlock, base_dir: Path) -> dict[str, dict[str, Any]] | None:
    """The instances a resource type makes of one block (e.g. one per YAML document)."""
    cls = registry.resource_class(block.type)
    if cls is None:
        return None
    try:
        return cls.split_instances(block.body, base_dir)
    except ValueError as exc:
        raise _SplitError(str(exc)) from None


def _only_vars(variables: Variables) -> Any:
    def resolve(ref: Ref) -> tuple[Any, bool]:
        if ref.root != "var":
            raise ExprError(f"{ref.text!r}: only variables may be used here")
        return variables.resolve(ref)

    return resolve


def _targets_of(
    ref_block: str,
    key: InstanceKey,
    cfg: Config,
    instances: Mapping[str, Instance],
    by_block: Mapping[str, list[str]],
) -> list[str]:
    if key is not None:
        addr = instance_address(ref_block, key)
        return [addr] if addr in instances else []
    return list(by_block.get(ref_block, []))


def instance_graph(cfg: Config, instances: Mapping[str, Instance]) -> nx.DiGraph:
    """Edges ``dependency -> dependent`` between instances."""
    by_block: dict[str, list[str]] = {}
    for addr, inst in instances.items():
        by_block.setdefault(inst.block.address, []).append(addr)
    g = nx.DiGraph()
    g.add_nodes_from(instances)
    diags: list[Diagnostic] = []
    for addr, inst in instances.items():
        for rel, ref in inst.block.refs:
            if not ref.is_resource:
                continue
            bound = ref.for_instance(inst.key)
            blk = bound.resource_address()
            key: InstanceKey = bound.instance_key()
            targets = _targets_of(blk, key, cfg, instances, by_block)
            if key is not None and not targets:
                have = ", ".join(sorted(a[len(blk) :] for a in by_block.get(blk, []))) or "none"
                where = ".".join(str(p) for p in rel)
                diags.append(
                    Diagnostic(
                        f"{ref.text!r}: {blk}[{key}] does not exist (instances: {have})",
                        cfg.position((*inst.block.path, *rel)),
                        addr,
                        where,
                    )
                )
            for dep in targets:
                g.add_edge(dep, addr)
        for i, dep_text in enumerate(inst.block.depends_on):
            blk = block_of(dep_text)
            key = dep_text[len(blk) + 1 : -1].strip().strip("\"'") if "[" in dep_text else None
            targets = _targets_of(blk, key, cfg, instances, by_block)
            if key is not None and not targets:
                have = ", ".join(sorted(a[len(blk) :] for a in by_block.get(blk, []))) or "none"
                diags.append(
                    Diagnostic(
                        f"depends_on names {dep_text!r}, which does not exist (instances: {have})",
                        cfg.position((*inst.block.path, "depends_on", i)),
                        addr,
                        f"depends_on[{i}]",
                    )
                )
            for dep in targets:
                g.add_edge(dep, addr)
    if diags:
        unique = {(str(d.position), d.message): d for d in diags}
        raise SpecError(list(unique.values()))
    return g
