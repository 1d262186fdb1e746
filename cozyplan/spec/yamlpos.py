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
from ruamel.yaml.events import CollectionEndEvent, CollectionStartEvent
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from ruamel.yaml.resolver import VersionedResolver
from ruamel.yaml.tag import Tag

from cozyplan.errors import Diagnostic, Position, SpecError

YamlPath = tuple[str | int, ...]

#: deepest nesting of mappings and sequences a spec may have (a real one nests ~10 deep); deeper
#: documents are refused before any recursive step sees them (the C composer crashes the process
#: at ~50,000 levels, Python recursion fails at ~300)
MAX_DEPTH = 100
#: aliases may expand a document to at most this many times its own size (nodes + characters),
#: and at least _ALIAS_FLOOR, so a few hundred bytes cannot become gigabytes ("billion laughs")
ALIAS_RATIO = 10
_ALIAS_FLOOR = 1_000_000
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
    def __init__(self, file: str, scalars: SafeConstructor, size: int) -> None:
        self.file = file
        self.positions: dict[YamlPath, Position] = {(): Position(file, 1, 1)}
        self.scalars = scalars
        self.active: set[int] = set()
        #: collection nodes converted once; converting one again is an alias expansion
        self.done: set[int] = set()
        self.expanding = 0  # > 0 while converting a node reached again through an alias
        self.expanded = 0  # nodes + characters produced by alias expansions so far
        self.budget = max(ALIAS_RATIO * size, _ALIAS_FLOOR)

    def pos(self, node: Node) -> Position:
        return Position(self.file, node.start_mark.line + 1, node.start_mark.column + 1)

    def _count(self, node: Node) -> None:
        self.expanded += 1 + (len(node.value) if isinstance(node, ScalarNode) else 0)
        if self.expanded > self.budget:
            raise SpecError(
                [
                    Diagnostic(
                        f"YAML aliases expand this document to more than {ALIAS_RATIO} times "
                        "its size (an alias bomb?): repeat less through anchors",
                        self.pos(node),
                    )
                ]
            )

    def convert(self, node: Node, path: YamlPath) -> Any:
        if self.expanding:
            self._count(node)
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
        if len(path) >= MAX_DEPTH:  # reached through aliases (the text itself was checked)
            raise SpecError([_too_deep(self.pos(node))])
        again = id(node) in self.done
        self.done.add(id(node))
        self.expanding += again
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
            self.expanding -= again
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


def _too_deep(pos: Position) -> Diagnostic:
    return Diagnostic(f"YAML nesting deeper than {MAX_DEPTH} levels", pos)


def _check_depth(yaml: YAML, text: str, file: str) -> None:
    """Refuse a document nested deeper than MAX_DEPTH, from the parser's events.

    The event parser keeps its own stack (no recursion), unlike the composer; a syntax error is
    left for ``compose`` to report with its position.
    """
    if text.count("[") + text.count("{") + text.count("-") + text.count(":") < MAX_DEPTH:
        return  # too few indicators to nest that deep
    depth = 0
    try:
        for event in yaml.parse(text):
            if isinstance(event, CollectionStartEvent):
                depth += 1
                if depth > MAX_DEPTH:
                    mark = event.start_mark
                    raise SpecError([_too_deep(Position(file, mark.line + 1, mark.column + 1))])
            elif isinstance(event, CollectionEndEvent):
                depth -= 1
    except MarkedYAMLError:
        return


def load_yaml(text: str, file: str) -> Document:
    yaml = _yaml()
    _check_depth(yaml, text, file)
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
    conv = _Converter(file, yaml.constructor, len(text))
    try:
        data = conv.convert(node, ())
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        pos = Position(file, mark.line + 1, mark.column + 1) if mark else Position(file, 1, 1)
        raise SpecError([Diagnostic(f"YAML error: {exc.problem or exc}", pos)]) from None
    return Document(file=file, data=data, positions=conv.positions, text=text)
