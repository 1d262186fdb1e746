"""YAML loading that keeps line/column positions (ruamel.yaml round-trip nodes)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.constructor import DuplicateKeyError
from ruamel.yaml.error import MarkedYAMLError

from cozyplan.errors import Diagnostic, Position, SpecError

YamlPath = tuple[str | int, ...]


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


def _plain(node: Any, path: YamlPath, file: str, positions: dict[YamlPath, Position]) -> Any:
    if isinstance(node, CommentedMap):
        out: dict[Any, Any] = {}
        for key, value in node.items():
            try:
                line, col = node.lc.key(key)
            except (KeyError, TypeError, AttributeError):
                line, col = node.lc.line, node.lc.col
            key_plain: str | int = (
                int(key) if isinstance(key, int) and not isinstance(key, bool) else str(key)
            )
            child = (*path, key_plain)
            positions[child] = Position(file, line + 1, col + 1)
            out[key_plain] = _plain(value, child, file, positions)
        return out
    if isinstance(node, CommentedSeq):
        items = []
        for i, value in enumerate(node):
            try:
                line, col = node.lc.item(i)
            except (KeyError, TypeError, AttributeError):
                line, col = node.lc.line, node.lc.col
            child = (*path, i)
            positions[child] = Position(file, line + 1, col + 1)
            items.append(_plain(value, child, file, positions))
        return items
    if isinstance(node, bool) or node is None:
        return node
    if isinstance(node, int):
        return int(node)
    if isinstance(node, float):
        return float(node)
    if isinstance(node, str):
        return str(node)
    return str(node)


def load_yaml(text: str, file: str) -> Document:
    yaml = YAML(typ="rt")
    yaml.allow_duplicate_keys = False
    try:
        node = yaml.load(text)
    except DuplicateKeyError as exc:
        mark = exc.problem_mark
        key = ""
        if exc.problem:
            key = exc.problem.split('"')[1] if '"' in exc.problem else exc.problem
        pos = Position(file, mark.line + 1, mark.column + 1) if mark else Position(file, 1, 1)
        related: tuple[Position, ...] = ()
        if exc.context_mark is not None:
            related = (Position(file, exc.context_mark.line + 1, exc.context_mark.column + 1),)
        raise SpecError(
            [
                Diagnostic(
                    f"duplicate key {key!r} (first defined at line "
                    f"{related[0].line if related else '?'})",
                    pos,
                    related=related,
                )
            ]
        ) from None
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        pos = Position(file, mark.line + 1, mark.column + 1) if mark else Position(file, 1, 1)
        problem = exc.problem or exc.context or "invalid YAML"
        raise SpecError([Diagnostic(f"YAML syntax error: {problem}", pos)]) from None
    except Exception as exc:  # ruamel raises a few unmarked errors (e.g. bad tags)
        raise SpecError([Diagnostic(f"YAML error: {exc}", Position(file, 1, 1))]) from None
    positions: dict[YamlPath, Position] = {(): Position(file, 1, 1)}
    data = _plain(node, (), file, positions)
    return Document(file=file, data=data, positions=positions, text=text)
