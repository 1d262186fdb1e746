"""Executing a parsed Go template with Helm's semantics (truthiness, ``<no value>`` as empty)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from cozyplan.upstream.gotemplate.parse import (
    Action,
    Break,
    Command,
    Continue,
    FieldRef,
    Ident,
    If,
    Literal,
    Node,
    Pipeline,
    Range,
    TemplateCall,
    Text,
    Tree,
    With,
)


class TemplateError(RuntimeError):
    """Execution failed (including Helm's ``fail``), with the template's message."""


class _BreakLoop(Exception):
    pass


class _ContinueLoop(Exception):
    pass


def truthy(value: Any) -> bool:
    """Go's ``if``: false, 0, nil, and empty strings/collections are false."""
    if value is None or value is False:
        return False
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value != 0
    if isinstance(value, str | list | tuple | dict):
        return len(value) > 0
    return True


def format_value(value: Any) -> str:
    """What ``{{ x }}`` prints (Go's fmt), with Helm's ``<no value>`` turned into ''."""
    if value is None:
        return ""
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dict):
        inner = " ".join(f"{k}:{format_value(v)}" for k, v in sorted(value.items()))
        return f"map[{inner}]"
    if isinstance(value, list | tuple):
        return "[" + " ".join(format_value(v) for v in value) + "]"
    return str(value)


Func = Callable[..., Any]


@dataclass
class Engine:
    """A set of templates and functions; ``render(name, data)`` runs one."""

    funcs: dict[str, Func]
    defines: dict[str, list[Node]] = field(default_factory=dict)
    trees: dict[str, Tree] = field(default_factory=dict)

    def add(self, name: str, tree: Tree) -> None:
        self.trees[name] = tree
        self.defines.update(tree.defines)

    def render(self, name: str, data: Any) -> str:
        return self.render_nodes(self.trees[name].root, data)

    def render_nodes(self, nodes: list[Node], data: Any) -> str:
        out: list[str] = []
        _Frame(self, data).run(nodes, data, [{"$": data}], out)
        return "".join(out)

    def include(self, name: str, data: Any) -> str:
        if name not in self.defines:
            raise TemplateError(f'no template "{name}" associated with template')
        return self.render_nodes(self.defines[name], data)


class _Frame:
    def __init__(self, engine: Engine, root: Any) -> None:
        self.engine = engine
        self.root = root

    # ---- statements --------------------------------------------------------------------
    def run(
        self, nodes: list[Node], dot: Any, scopes: list[dict[str, Any]], out: list[str]
    ) -> None:
        for node in nodes:
            if isinstance(node, Text):
                out.append(node.text)
            elif isinstance(node, Action):
                value = self.pipe(node.pipe, dot, scopes)
                if not node.pipe.decl:
                    out.append(format_value(value))
            elif isinstance(node, If):
                self._if(node, dot, scopes, out)
            elif isinstance(node, With):
                self._with(node, dot, scopes, out)
            elif isinstance(node, Range):
                self._range(node, dot, scopes, out)
            elif isinstance(node, TemplateCall):
                arg = None if node.pipe is None else self.pipe(node.pipe, dot, scopes)
                out.append(self.engine.include(node.name, arg))
            elif isinstance(node, Break):
                raise _BreakLoop
            elif isinstance(node, Continue):
                raise _ContinueLoop

    def _if(self, node: If, dot: Any, scopes: list[dict[str, Any]], out: list[str]) -> None:
        for pipe, body in node.branches:
            scope: dict[str, Any] = {}
            if truthy(self.pipe(pipe, dot, [*scopes, scope])):
                self.run(body, dot, [*scopes, scope], out)
                return
        self.run(node.otherwise, dot, [*scopes, {}], out)

    def _with(self, node: With, dot: Any, scopes: list[dict[str, Any]], out: list[str]) -> None:
        for pipe, body in node.branches:
            scope: dict[str, Any] = {}
            value = self.pipe(pipe, dot, [*scopes, scope])
            if truthy(value):
                self.run(body, value, [*scopes, scope], out)
                return
        self.run(node.otherwise, dot, [*scopes, {}], out)

    def _range(self, node: Range, dot: Any, scopes: list[dict[str, Any]], out: list[str]) -> None:
        pipe = node.pipe
        header = Pipeline(pipe.commands, line=pipe.line)
        value = self.pipe(header, dot, scopes)
        if value is None:
            items: list[tuple[Any, Any]] = []
        elif isinstance(value, Mapping):
            items = [(k, value[k]) for k in sorted(value)]
        elif isinstance(value, list | tuple):
            items = list(enumerate(value))
        elif isinstance(value, int) and not isinstance(value, bool):
            items = [(i, i) for i in range(value)]
        else:
            raise TemplateError(f"line {pipe.line}: range can't iterate over {value!r}")
        if not items:
            self.run(node.otherwise, dot, [*scopes, {}], out)
            return
        for key, item in items:
            scope: dict[str, Any] = {}
            if len(pipe.decl) == 1:
                scope[pipe.decl[0]] = item
            elif len(pipe.decl) == 2:
                scope[pipe.decl[0]] = key
                scope[pipe.decl[1]] = item
            try:
                self.run(node.body, item, [*scopes, scope], out)
            except _BreakLoop:
                break
            except _ContinueLoop:
                continue

    # ---- expressions -------------------------------------------------------------------
    def pipe(self, pipe: Pipeline, dot: Any, scopes: list[dict[str, Any]]) -> Any:
        value: Any = _NOTHING
        for cmd in pipe.commands:
            value = self.command(cmd, dot, scopes, value, pipe.line)
        if pipe.decl:
            name = pipe.decl[-1]
            if pipe.assign:
                for scope in reversed(scopes):
                    if name in scope:
                        scope[name] = value
                        break
                else:
                    raise TemplateError(f"line {pipe.line}: undefined variable: {name}")
            else:
                scopes[-1][name] = value
        return value

    def command(
        self, cmd: Command, dot: Any, scopes: list[dict[str, Any]], piped: Any, line: int
    ) -> Any:
        first = cmd.terms[0]
        if isinstance(first, Ident):
            return self.call(first.name, cmd.terms[1:], dot, scopes, piped, line)
        if (isinstance(first, FieldRef) and len(cmd.terms) > 1) or piped is not _NOTHING:
            target = self.term(first, dot, scopes, line, call=True)
            if callable(target):
                args = [self.term(t, dot, scopes, line) for t in cmd.terms[1:]]
                if piped is not _NOTHING:
                    args.append(piped)
                return target(*args)
            raise TemplateError(f"line {line}: can't give argument to non-function")
        return self.term(first, dot, scopes, line)

    def call(
        self,
        name: str,
        arg_terms: tuple[Any, ...],
        dot: Any,
        scopes: list[dict[str, Any]],
        piped: Any,
        line: int,
    ) -> Any:
        if name in ("and", "or"):  # short-circuit, as Go 1.18+

            def lazy() -> Iterator[Any]:
                for t in arg_terms:
                    yield self.term(t, dot, scopes, line)
                if piped is not _NOTHING:
                    yield piped

            result: Any = None
            for value in lazy():
                result = value
                if (name == "and") != truthy(value):
                    return value
            return result
        func = self.engine.funcs.get(name)
        if func is None:
            raise TemplateError(f'line {line}: function "{name}" not defined')
        args = [self.term(t, dot, scopes, line) for t in arg_terms]
        if piped is not _NOTHING:
            args.append(piped)
        try:
            return func(*args)
        except TemplateError:
            raise
        except (TypeError, ValueError, KeyError) as exc:
            raise TemplateError(f"line {line}: error calling {name}: {exc}") from exc

    def term(
        self, term: Any, dot: Any, scopes: list[dict[str, Any]], line: int, *, call: bool = False
    ) -> Any:
        if isinstance(term, Literal):
            return term.value
        if isinstance(term, Ident):
            return self.call(term.name, (), dot, scopes, _NOTHING, line)
        if isinstance(term, FieldRef):
            if term.base is not None:
                base = self.pipe(term.base, dot, scopes)
            elif term.var is not None:
                base = self._var(term.var, scopes, line)
            else:
                base = dot
            for part in term.chain:
                base = _field(base, part)
            return base
        raise TemplateError(f"line {line}: cannot evaluate {term!r}")

    @staticmethod
    def _var(name: str, scopes: list[dict[str, Any]], line: int) -> Any:
        for scope in reversed(scopes):
            if name in scope:
                return scope[name]
        raise TemplateError(f"line {line}: undefined variable: {name}")


def _field(base: Any, name: str) -> Any:
    if base is None:
        return None
    if isinstance(base, Mapping):
        return base.get(name)
    attr = getattr(base, name, None)
    return attr


class _Nothing:
    pass


_NOTHING: Any = _Nothing()
