"""``${...}`` interpolation: parsing references and evaluating templates.

A string that is exactly one ``${expr}`` evaluates to the referenced value with its type;
otherwise each ``${expr}`` is rendered into the string. ``$${`` is a literal ``${``.
Expressions are traversals: ``var.NAME``, ``each.key``, ``each.value[.path]``, ``count.index``,
``TYPE.NAME[.ATTR...]`` and ``TYPE.NAME[KEY].ATTR...``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cozyplan.values import UNKNOWN, contains_unknown

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<ident>[A-Za-z_][A-Za-z0-9_\-]*)
      | (?P<dot>\.)
      | \[\s*(?:(?P<int>-?\d+)|"(?P<dq>[^"]*)"|'(?P<sq>[^']*)'|(?P<bare>[A-Za-z0-9_\-.:/]+))\s*\]
    )""",
    re.VERBOSE,
)

Part = str | int


class ExprError(ValueError):
    pass


@dataclass(frozen=True)
class Ref:
    """A parsed reference. ``parts`` mixes names (attributes) and ``Index`` keys."""

    text: str
    parts: tuple[Part | Index, ...]

    @property
    def root(self) -> str:
        first = self.parts[0]
        assert isinstance(first, str)
        return first

    @property
    def is_resource(self) -> bool:
        return self.root not in ("var", "each", "count", "self")

    def resource_address(self) -> str:
        return f"{self.parts[0]}.{self.parts[1]}"

    def instance_key(self) -> str | int | None:
        """The ``[KEY]`` right after ``TYPE.NAME``, if any."""
        if len(self.parts) > 2 and isinstance(self.parts[2], Index):
            return self.parts[2].key
        return None

    @property
    def dynamic_key(self) -> str | None:
        """``each.key`` or ``count.index`` when the instance key is the evaluating one's."""
        part = self.parts[2] if len(self.parts) > 2 else None
        if isinstance(part, Index) and part.dynamic:
            return str(part.key)
        return None

    def for_instance(self, key: str | int | None) -> Ref:
        """This reference with a dynamic ``[each.key]`` bound to ``key``."""
        if self.dynamic_key is None or key is None:
            return self
        parts = list(self.parts)
        parts[2] = Index(key)
        return Ref(self.text, tuple(parts))

    def attr_path(self) -> tuple[Part, ...]:
        rest = self.parts[3:] if self.instance_key() is not None else self.parts[2:]
        return tuple(p.key if isinstance(p, Index) else p for p in rest)


@dataclass(frozen=True)
class Index:
    key: str | int
    #: ``[each.key]`` / ``[count.index]``: the key of the instance being evaluated
    dynamic: bool = False


DYNAMIC_KEYS = ("each.key", "count.index")


def parse_ref(text: str) -> Ref:
    pos = 0
    parts: list[Part | Index] = []
    expect_name = True
    source = text.strip()
    while pos < len(source):
        m = _TOKEN.match(source, pos)
        if m is None or m.end() == pos:
            raise ExprError(f"cannot parse expression {text!r} at {source[pos:]!r}")
        pos = m.end()
        if m.group("ident") is not None:
            if not expect_name:
                raise ExprError(f"expected '.' or '[' in {text!r} before {m.group('ident')!r}")
            parts.append(m.group("ident"))
            expect_name = False
        elif m.group("dot") is not None:
            if expect_name:
                raise ExprError(f"unexpected '.' in {text!r}")
            expect_name = True
        else:
            if expect_name:
                raise ExprError(f"unexpected '[' in {text!r}")
            if m.group("int") is not None:
                parts.append(Index(int(m.group("int"))))
            elif m.group("bare") in DYNAMIC_KEYS:
                parts.append(Index(m.group("bare"), dynamic=True))
            else:
                key = next(
                    g for g in (m.group("dq"), m.group("sq"), m.group("bare")) if g is not None
                )
                parts.append(Index(key))
    if expect_name or not parts:
        raise ExprError(f"incomplete expression {text!r}")
    if not isinstance(parts[0], str):
        raise ExprError(f"expression {text!r} must start with a name")
    ref = Ref(text.strip(), tuple(parts))
    root = ref.root
    if root == "var" and (len(parts) < 2 or not isinstance(parts[1], str)):
        raise ExprError(f"{text!r}: expected var.NAME")
    if root == "each" and (len(parts) < 2 or parts[1] not in ("key", "value")):
        raise ExprError(f"{text!r}: expected each.key or each.value")
    if root == "count" and (len(parts) != 2 or parts[1] != "index"):
        raise ExprError(f"{text!r}: expected count.index")
    if ref.is_resource and (len(parts) < 2 or not isinstance(parts[1], str)):
        raise ExprError(f"{text!r}: expected TYPE.NAME or var./each./count.")
    return ref


@dataclass(frozen=True)
class Segment:
    """A piece of a template: literal text or a reference."""

    literal: str | None = None
    ref: Ref | None = None
    offset: int = 0


def parse_template(text: str) -> list[Segment]:
    segments: list[Segment] = []
    i = 0
    buf = ""
    while i < len(text):
        if text.startswith("$${", i):
            buf += "${"
            i += 3
            continue
        if text.startswith("${", i):
            end = text.find("}", i + 2)
            if end < 0:
                raise ExprError(f"unterminated '${{' in {text!r}")
            if buf:
                segments.append(Segment(literal=buf))
                buf = ""
            segments.append(Segment(ref=parse_ref(text[i + 2 : end]), offset=i))
            i = end + 1
            continue
        buf += text[i]
        i += 1
    if buf:
        segments.append(Segment(literal=buf))
    return segments


def refs_in(value: Any, *, strict: bool = True) -> list[tuple[tuple[Part, ...], Ref]]:
    """Every reference in a nested value, with the path of the string that holds it.

    ``strict=False`` skips unparsable templates (already reported by validation).
    """
    found: list[tuple[tuple[Part, ...], Ref]] = []

    def walk(v: Any, path: tuple[Part, ...]) -> None:
        if isinstance(v, str):
            if "${" in v:
                try:
                    segments = parse_template(v)
                except ExprError:
                    if strict:
                        raise
                    return
                for seg in segments:
                    if seg.ref is not None:
                        found.append((path, seg.ref))
        elif isinstance(v, dict):
            for k, item in v.items():
                walk(item, (*path, k))
        elif isinstance(v, list):
            for i, item in enumerate(v):
                walk(item, (*path, i))

    walk(value, ())
    return found


@dataclass
class Evaluated:
    value: Any
    sensitive: bool


Resolver = Callable[[Ref], tuple[Any, bool]]


def _render(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    if isinstance(value, int | float):
        return str(value)
    return json.dumps(value, sort_keys=True)


def evaluate(value: Any, resolve: Resolver) -> Evaluated:
    """Evaluate every template in ``value``; track whether anything sensitive flowed in."""
    sensitive = False

    def ev(v: Any) -> Any:
        nonlocal sensitive
        if isinstance(v, str):
            if "${" not in v:
                return v
            segments = parse_template(v)
            if len(segments) == 1 and segments[0].ref is not None:
                got, sens = resolve(segments[0].ref)
                sensitive = sensitive or sens
                return got
            out = ""
            for seg in segments:
                if seg.literal is not None:
                    out += seg.literal
                    continue
                assert seg.ref is not None
                got, sens = resolve(seg.ref)
                sensitive = sensitive or sens
                if contains_unknown(got):
                    return UNKNOWN
                out += _render(got)
            return out
        if isinstance(v, dict):
            return {k: ev(item) for k, item in v.items()}
        if isinstance(v, list):
            return [ev(item) for item in v]
        return v

    result = ev(value)
    return Evaluated(result, sensitive)


def traverse(value: Any, path: tuple[Part, ...], what: str) -> Any:
    """Follow ``path`` into ``value``; unknown stays unknown."""
    for part in path:
        if value is UNKNOWN:
            return UNKNOWN
        if isinstance(value, dict):
            if part not in value and str(part) not in value:
                raise ExprError(f"{what} has no attribute {part!r}")
            value = value[part] if part in value else value[str(part)]
        elif isinstance(value, list) and isinstance(part, int):
            if not -len(value) <= part < len(value):
                raise ExprError(f"{what}: index {part} out of range")
            value = value[part]
        else:
            raise ExprError(f"{what}: cannot take {part!r} of a {type(value).__name__}")
    return value
