"""The whole spec as providers see it for cross-resource validation (``Provider.validate_spec``).

A provider that must compare resources (a CozyStack ``cluster-domain`` against the Talos
``dnsDomain``) gets every resource block as written, and the values that are known without
planning: literals, variables (environment or default) and ``each.key``/``each.value`` of a
literal ``for_each``. Anything else (a resource attribute) is ``UNKNOWN``, and a check must skip
it. Problems point at a field of a block; the engine turns them into ``file:line`` diagnostics.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from cozyplan.spec.expr import ExprError, Index, Ref, evaluate
from cozyplan.values import UNKNOWN

Path = tuple[str | int, ...]


@dataclass(frozen=True)
class SpecProblem:
    """A problem at ``address``'s field ``path`` (``()`` = the block), e.g. with the fix."""

    address: str
    path: Path
    message: str
    #: other places involved, (address, path), shown as related positions
    related: tuple[tuple[str, Path], ...] = ()


@dataclass(frozen=True)
class SpecBlock:
    address: str
    type: str
    body: Mapping[str, Any]
    for_each: Any = None


@dataclass
class SpecView:
    blocks: dict[str, SpecBlock]
    variables: Mapping[str, Any]  # name -> VariableSpec-like (env, default, model_fields_set)
    locate: Callable[[str, Path], str | None] = field(default=lambda a, p: None)

    def of_type(self, type_name: str) -> list[SpecBlock]:
        return [b for b in self.blocks.values() if b.type == type_name]

    def instances(self, block: SpecBlock) -> Iterator[tuple[str | None, dict[str, Any]]]:
        """``(key, body)`` per instance with static values (``key`` None without for_each)."""
        fe = block.for_each
        if fe is None:
            yield None, self.static(dict(block.body))
            return
        items = self.static(fe)
        if isinstance(items, list):
            items = {str(k): k for k in items}
        if not isinstance(items, dict):
            return
        for key, value in items.items():
            yield str(key), self.static(dict(block.body), each=(str(key), value))

    def static(self, value: Any, each: tuple[str, Any] | None = None) -> Any:
        """``value`` with what is known before planning filled in; the rest ``UNKNOWN``."""

        def resolve(ref: Ref) -> tuple[Any, bool]:
            parts = ref.parts
            if ref.root == "var":
                got = self._variable(str(parts[1]))
                rest = parts[2:]
            elif ref.root == "each" and each is not None:
                got = each[0] if parts[1] == "key" else each[1]
                rest = parts[2:]
            else:
                return UNKNOWN, False
            for part in rest:
                got = _step(got, part.key if isinstance(part, Index) else part)
            return got, False

        try:
            return evaluate(value, resolve).value
        except ExprError:
            return UNKNOWN

    def _variable(self, name: str) -> Any:
        var = self.variables.get(name)
        if var is None:
            return UNKNOWN
        env = getattr(var, "env", None)
        if env and env in os.environ:
            return os.environ[env]
        if "default" in getattr(var, "model_fields_set", ()):
            return var.default
        return UNKNOWN


def _step(value: Any, key: str | int) -> Any:
    """``value[key]``, or UNKNOWN when there is no such element."""
    if isinstance(value, dict):
        return value.get(key, UNKNOWN)
    if isinstance(value, list) and isinstance(key, int) and 0 <= key < len(value):
        return value[key]
    return UNKNOWN
