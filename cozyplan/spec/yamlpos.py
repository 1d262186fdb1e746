"""YAML loading that keeps the line/column of every key and item.

The document is *composed* (ruamel.yaml's node graph, with the C parser from ruamel.yaml.clib
when installed: ~10x faster than round-trip loading) and turned into plain Python here, so
duplicate keys and positions are handled in one pass.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.constructor import SafeConstructor
from ruamel.yaml.error import MarkedYAMLError
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from ruamel.yaml.resolver import VersionedResolver
from ruamel.yaml.tag import Tag

from cozyplan.errors import Diagnostic, Position, SpecError

YamlPath = tuple[str | int, ...]
_STR = "tag:yaml.org,2002:str"
_INT = "tag:yaml.org,2002:int"


@dataclass
class Document:
    """Plain Python data from a YAML file, with the position of every key and item."""

    file: str
    data: Any
    positions: dict[YamlPath, Position] = field(default_factory=dict)
    text: str = ""

    def position(self, path: YamlPath) -> Position | None:
        """The position of ``path``, or of its nearest ancestor that has one."""
        while True:
            pos = self.positions.get(path)
            if pos is not None or not path:
                return pos or Position(self.file, 1, 1)
            path = path[:-1]


class _Converter:
    def __init__(self, file: str, scalars: SafeConstructor) -> None:
        self.file = file
        self.positions: dict[YamlPath, Position] = {(): Position(file, 1, 1)}
        self.scalars = scalars
        self.active: set[int] = set()

    def pos(self, node: Node) -> Position:
        return Position(self.file, node.start_mark.line + 1, node.start_mark.column + 1)

    def convert(self, node: Node, path: YamlPath) -> Any:
        if isinstance(node, ScalarNode):
            tag = node.ctag.trval
            if tag == _STR:  # the common case, without the constructor's machinery
                return node.value
            if tag == _INT and node.value.isdigit():
                return int(node.value)
            value = self.scalars.construct_object(node, deep=True)
            if isinstance(value, bool) or value is None or isinstance(value, int | float | str):
                return value
            return str(value)  # timestamps, binary: keep the text
        if id(node) in self.active:
            raise SpecError([Diagnostic("recursive YAML alias", self.pos(node))])
        self.active.add(id(node))
        try:
            if isinstance(node, SequenceNode):
                items = []
                for i, item in enumerate(node.value):
                    child = (*path, i)
                    self.positions[child] = self.pos(item)
                    items.append(self.convert(item, child))
                return items
            if isinstance(node, MappingNode):
                return self.mapping(node, path)
        finally:
            self.active.discard(id(node))
        raise SpecError([Diagnostic(f"unsupported YAML node {node.tag}", self.pos(node))])

    def mapping(self, node: MappingNode, path: YamlPath) -> dict[str | int, Any]:
        out: dict[str | int, Any] = {}
        seen: dict[str | int, Node] = {}
        for key_node, value_node in node.value:
            if key_node.ctag.trval == "tag:yaml.org,2002:merge":
                merged = self.convert(value_node, path)
                for part in merged if isinstance(merged, list) else [merged]:
                    if isinstance(part, dict):
                        for k, v in part.items():
                            out.setdefault(k, v)
                continue
            raw_key = self.convert(key_node, path)
            key: str | int = (
                raw_key
                if isinstance(raw_key, int) and not isinstance(raw_key, bool)
                else str(raw_key)
            )
            if key in seen:
                first = self.pos(seen[key])
                raise SpecError(
                    [
                        Diagnostic(
                            f"duplicate key {key!r} (first defined at line {first.line})",
                            self.pos(key_node),
                            related=(first,),
                        )
                    ]
                )
            seen[key] = key_node
            child = (*path, key)
            self.positions[child] = self.pos(key_node)
            out[key] = self.convert(value_node, child)
        return out


class _Yaml12Resolver(VersionedResolver):
    """YAML 1.2 rules, fast for the common case.

    ruamel re-derives the YAML version and walks its implicit resolvers for every scalar, and
    makes a new ``Tag`` object per node. Here a plain scalar whose first character starts no
    implicit type (no digit, sign, dot, ``~``, ``t``, ``n``, ...) is a string by the same rules,
    other answers are remembered, and one shared ``Tag`` object stands for each tag.
    """

    _plain_first: frozenset[str] | None = None
    _tags: dict[str, Tag] = {}
    _answers: dict[tuple[Any, ...], Tag] = {}
    _str_tag: Tag

    @property
    def processing_version(self) -> tuple[int, int]:
        return (1, 2)

    @classmethod
    def shared(cls, suffix: str) -> Tag:
        tag = cls._tags.get(suffix)
        if tag is None:
            tag = cls._tags[suffix] = Tag(suffix=suffix)
            _ = tag.trval  # computed once, cached on the object
        return tag

    def resolve(self, kind: Any, value: Any, implicit: Any) -> Any:
        if kind is ScalarNode:
            firsts = _Yaml12Resolver._plain_first
            if firsts is not None:
                if implicit[0] and value and value[0] not in firsts:
                    return _Yaml12Resolver._str_tag
            else:
                table = self.versioned_resolver
                firsts = frozenset(k for k in table if k) if not table.get(None) else frozenset()
                _Yaml12Resolver._plain_first = firsts or None
                _Yaml12Resolver._str_tag = self.shared(_STR)
            key = (value, implicit)
            found = _Yaml12Resolver._answers.get(key)
            if found is None:
                found = self.shared(str(super().resolve(kind, value, implicit)))
                if len(_Yaml12Resolver._answers) < 100_000:
                    _Yaml12Resolver._answers[key] = found
            return found
        return self.shared(str(super().resolve(kind, value, implicit)))


def _yaml() -> YAML:
    try:
        yaml = YAML(typ="safe", pure=False)
    except Exception:  # no C extension: the pure-Python parser gives the same nodes
        yaml = YAML(typ="safe", pure=True)
    yaml.Resolver = _Yaml12Resolver
    return yaml


def load_yaml(text: str, file: str) -> Document:
    yaml = _yaml()
    try:
        node = yaml.compose(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        pos = Position(file, mark.line + 1, mark.column + 1) if mark else Position(file, 1, 1)
        problem = exc.problem or exc.context or "invalid YAML"
        raise SpecError([Diagnostic(f"YAML syntax error: {problem}", pos)]) from None
    except Exception as exc:  # a few errors carry no mark (e.g. a bad tag)
        raise SpecError([Diagnostic(f"YAML error: {exc}", Position(file, 1, 1))]) from None
    if node is None:
        return Document(file=file, data=None, text=text)
    conv = _Converter(file, yaml.constructor)
    try:
        data = conv.convert(node, ())
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        pos = Position(file, mark.line + 1, mark.column + 1) if mark else Position(file, 1, 1)
        raise SpecError([Diagnostic(f"YAML error: {exc.problem or exc}", pos)]) from None
    return Document(file=file, data=data, positions=conv.positions, text=text)
