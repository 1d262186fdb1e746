"""Go ``text/template`` syntax: lexing with trim markers, and a parse tree.

Covers the language Helm charts use: text, comments, ``{{- -}}`` trimming, pipelines with
function calls, parenthesised sub-pipelines with field chains, variables (``:=``/``=``),
``if``/``else if``/``else``, ``range`` (one or two variables), ``with``, ``define``,
``template``, ``break`` and ``continue``. What it does not know is a ``TemplateSyntaxError``
naming the line, never a silent mis-render.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any


class TemplateSyntaxError(ValueError):
    pass


# ---- parse tree ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Literal:
    value: Any


@dataclass(frozen=True)
class FieldRef:
    """``.a.b`` (on dot) or ``$v.a.b`` (var set) or ``(pipe).a`` (base set)."""

    chain: tuple[str, ...]
    var: str | None = None
    base: Pipeline | None = None


@dataclass(frozen=True)
class Ident:
    name: str


Term = Literal | FieldRef | Ident


@dataclass(frozen=True)
class Command:
    terms: tuple[Term, ...]


@dataclass(frozen=True)
class Pipeline:
    commands: tuple[Command, ...]
    decl: tuple[str, ...] = ()
    assign: bool = False  # ``=`` rather than ``:=``
    line: int = 0


@dataclass
class Text:
    text: str


@dataclass
class Action:
    pipe: Pipeline


@dataclass
class If:
    branches: list[tuple[Pipeline, list[Node]]]
    otherwise: list[Node] = field(default_factory=list)


@dataclass
class With:
    branches: list[tuple[Pipeline, list[Node]]]
    otherwise: list[Node] = field(default_factory=list)


@dataclass
class Range:
    pipe: Pipeline
    body: list[Node]
    otherwise: list[Node] = field(default_factory=list)


@dataclass
class TemplateCall:
    name: str
    pipe: Pipeline | None


@dataclass
class Break:
    pass


@dataclass
class Continue:
    pass


Node = Text | Action | If | With | Range | TemplateCall | Break | Continue


@dataclass
class Tree:
    root: list[Node]
    defines: dict[str, list[Node]]


# ---- lexing of the text/action stream ------------------------------------------------------
_WS = " \t\r\n"


@dataclass
class _Raw:
    text: str
    line: int
    is_action: bool


def _split(src: str) -> list[_Raw]:
    out: list[_Raw] = []
    pos = 0
    trim_next = False
    while True:
        start = src.find("{{", pos)
        text = src[pos:] if start < 0 else src[pos:start]
        if trim_next:
            text = text.lstrip(_WS)
        if start < 0:
            out.append(_Raw(text, 0, False))
            return out
        line = src.count("\n", 0, start) + 1
        inner_start = start + 2
        if src.startswith("- ", inner_start) or src.startswith("-\n", inner_start):
            text = text.rstrip(_WS)
            inner_start += 1
        out.append(_Raw(text, line, False))
        end = _find_close(src, inner_start, line)
        inner_end = end
        trim_next = False
        if src[end - 1] == "-" and src[end - 2] in _WS:
            trim_next = True
            inner_end = end - 1
        body = src[inner_start:inner_end].strip(_WS)
        if not (body.startswith("/*") and body.endswith("*/")):
            out.append(_Raw(body, line, True))
        pos = end + 2


def _find_close(src: str, pos: int, line: int) -> int:
    quote = ""
    i = pos
    while i < len(src):
        c = src[i]
        if quote:
            if c == "\\" and quote == '"':
                i += 2
                continue
            if c == quote:
                quote = ""
        elif src.startswith("/*", i):
            close = src.find("*/", i + 2)
            if close < 0:
                break
            i = close + 2
            continue
        elif c in "\"`'":
            quote = c
        elif src.startswith("}}", i):
            return i
        i += 1
    raise TemplateSyntaxError(f"line {line}: unclosed action")


# ---- tokens inside one action --------------------------------------------------------------
_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<str>"(?:[^"\\]|\\.)*")
  | (?P<raw>`[^`]*`)
  | (?P<char>'(?:[^'\\]|\\.)')
  | (?P<decl>:=)
  | (?P<assign>=)
  | (?P<punct>[()|,])
  | (?P<var>\$[A-Za-z0-9_]*)
  | (?P<field>(?:\.[A-Za-z_][A-Za-z0-9_]*)+|\.)
  | (?P<num>-?(?:0x[0-9a-fA-F]+|\d+(?:\.\d+)?(?:[eE][-+]?\d+)?))
  | (?P<ident>[A-Za-z_][A-Za-z0-9_]*)
    """,
    re.VERBOSE,
)

_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\", "'": "'", "0": "\0"}


def _unquote(s: str) -> str:
    out = []
    i = 1
    while i < len(s) - 1:
        c = s[i]
        if c == "\\":
            nxt = s[i + 1]
            if nxt == "x":
                out.append(chr(int(s[i + 2 : i + 4], 16)))
                i += 4
                continue
            if nxt == "u":
                out.append(chr(int(s[i + 2 : i + 6], 16)))
                i += 6
                continue
            out.append(_ESCAPES.get(nxt, nxt))
            i += 2
            continue
        out.append(c)
        i += 1
    return "".join(out)


@dataclass
class _Tok:
    kind: str
    text: str
    spaced: bool  # preceded by white space


def _tokens(body: str, line: int) -> list[_Tok]:
    toks: list[_Tok] = []
    pos = 0
    spaced = True
    while pos < len(body):
        m = _TOKEN.match(body, pos)
        if m is None:
            raise TemplateSyntaxError(f"line {line}: unexpected {body[pos : pos + 10]!r}")
        kind = m.lastgroup or ""
        pos = m.end()
        if kind == "ws":
            spaced = True
            continue
        toks.append(_Tok(kind, m.group(), spaced))
        spaced = False
    return toks


class _PipeParser:
    def __init__(self, toks: list[_Tok], line: int) -> None:
        self.toks = toks
        self.i = 0
        self.line = line

    def peek(self) -> _Tok | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def next(self) -> _Tok:
        tok = self.peek()
        if tok is None:
            raise TemplateSyntaxError(f"line {self.line}: unexpected end of action")
        self.i += 1
        return tok

    def pipeline(self, *, allow_decl: bool = True, range_decl: bool = False) -> Pipeline:
        decl: tuple[str, ...] = ()
        assign = False
        if allow_decl:
            j = self.i
            names = []
            while j < len(self.toks) and self.toks[j].kind == "var":
                names.append(self.toks[j].text)
                j += 1
                if j < len(self.toks) and self.toks[j].kind == "punct" and self.toks[j].text == ",":
                    if not range_decl:
                        break
                    j += 1
                    continue
                break
            if names and j < len(self.toks) and self.toks[j].kind in ("decl", "assign"):
                decl = tuple(names)
                assign = self.toks[j].kind == "assign"
                self.i = j + 1
        commands = [self.command()]
        while (tok := self.peek()) is not None and tok.text == "|":
            self.next()
            commands.append(self.command())
        return Pipeline(tuple(commands), decl, assign, self.line)

    def command(self) -> Command:
        terms: list[Term] = []
        while (tok := self.peek()) is not None and tok.text not in ("|", ")"):
            terms.append(self.term())
        if not terms:
            raise TemplateSyntaxError(f"line {self.line}: missing value for command")
        return Command(tuple(terms))

    def term(self) -> Term:
        tok = self.next()
        if tok.kind == "str":
            return Literal(_unquote(tok.text))
        if tok.kind == "raw":
            return Literal(tok.text[1:-1])
        if tok.kind == "char":
            return Literal(ord(_unquote(tok.text)))
        if tok.kind == "num":
            text = tok.text
            if text.lower().startswith(("0x", "-0x")):
                return Literal(int(text, 16))
            return Literal(float(text) if any(c in text for c in ".eE") else int(text))
        if tok.kind == "field":
            chain = () if tok.text == "." else tuple(tok.text[1:].split("."))
            return FieldRef(chain)
        if tok.kind == "var":
            chain = self._chain()
            return FieldRef(chain, var=tok.text)
        if tok.kind == "ident":
            if tok.text in ("true", "false"):
                return Literal(tok.text == "true")
            if tok.text == "nil":
                return Literal(None)
            return Ident(tok.text)
        if tok.text == "(":
            inner = self.pipeline(allow_decl=False)
            close = self.next()
            if close.text != ")":
                raise TemplateSyntaxError(f"line {self.line}: expected ')'")
            return FieldRef(self._chain(), base=inner)
        raise TemplateSyntaxError(f"line {self.line}: unexpected {tok.text!r}")

    def _chain(self) -> tuple[str, ...]:
        tok = self.peek()
        if tok is not None and tok.kind == "field" and not tok.spaced and tok.text != ".":
            self.next()
            return tuple(tok.text[1:].split("."))
        return ()


def _parse_pipe(body: str, line: int, *, range_decl: bool = False) -> Pipeline:
    parser = _PipeParser(_tokens(body, line), line)
    pipe = parser.pipeline(range_decl=range_decl)
    if parser.peek() is not None:
        raise TemplateSyntaxError(f"line {line}: unexpected {parser.peek().text!r}")  # type: ignore[union-attr]
    return pipe


# ---- block structure -----------------------------------------------------------------------
_KEYWORD = re.compile(
    r"^(if|else|end|range|with|define|template|block|break|continue)\b\s*(.*)$", re.S
)


def parse(src: str, name: str = "template") -> Tree:
    raws = _split(src)
    defines: dict[str, list[Node]] = {}
    pos = 0

    def block(ends: tuple[str, ...]) -> tuple[list[Node], str, str, int]:
        """Nodes up to one of ``ends``; returns (nodes, keyword, rest, line)."""
        nonlocal pos
        nodes: list[Node] = []
        while pos < len(raws):
            raw = raws[pos]
            pos += 1
            if not raw.is_action:
                if raw.text:
                    nodes.append(Text(raw.text))
                continue
            m = _KEYWORD.match(raw.text)
            if m is None:
                nodes.append(Action(_parse_pipe(raw.text, raw.line)))
                continue
            kw, rest = m.group(1), m.group(2).strip()
            if kw in ends:
                return nodes, kw, rest, raw.line
            if kw in ("end", "else"):
                raise TemplateSyntaxError(f"{name}: line {raw.line}: unexpected {{{{{kw}}}}}")
            if kw in ("if", "with"):
                nodes.append(conditional(kw, rest, raw.line))
            elif kw == "range":
                pipe = _parse_pipe(rest, raw.line, range_decl=True)
                body, kw2, _, _ = block(("end", "else"))
                otherwise: list[Node] = []
                if kw2 == "else":
                    otherwise, _, _, _ = block(("end",))
                nodes.append(Range(pipe, body, otherwise))
            elif kw == "define":
                tname = _template_name(rest, raw.line)
                body, _, _, _ = block(("end",))
                defines[tname] = body
            elif kw == "template":
                tname, arg = _template_call(rest, raw.line)
                nodes.append(TemplateCall(tname, arg))
            elif kw == "break":
                nodes.append(Break())
            elif kw == "continue":
                nodes.append(Continue())
            else:
                raise TemplateSyntaxError(f"{name}: line {raw.line}: {{{{{kw}}}}} is not supported")
        if ends:
            raise TemplateSyntaxError(f"{name}: unexpected end of template (missing {{{{end}}}})")
        return nodes, "", "", 0

    def conditional(kw: str, rest: str, line: int) -> If | With:
        branches: list[tuple[Pipeline, list[Node]]] = []
        pipe = _parse_pipe(rest, line)
        while True:
            body, kw2, rest2, line2 = block(("end", "else"))
            branches.append((pipe, body))
            if kw2 == "end":
                return If(branches) if kw == "if" else With(branches)
            m = re.match(rf"^{kw}\b\s*(.*)$", rest2, re.S)
            if m is not None:  # else if / else with
                pipe = _parse_pipe(m.group(1), line2)
                continue
            if rest2:
                raise TemplateSyntaxError(f"{name}: line {line2}: unexpected {rest2!r} after else")
            otherwise, _, _, _ = block(("end",))
            return If(branches, otherwise) if kw == "if" else With(branches, otherwise)

    root, _, _, _ = block(())
    return Tree(root, defines)


def _template_name(rest: str, line: int) -> str:
    m = re.match(r'^"((?:[^"\\]|\\.)*)"\s*$', rest) or re.match(r"^`([^`]*)`\s*$", rest)
    if m is None:
        raise TemplateSyntaxError(f"line {line}: define needs a quoted name")
    return m.group(1)


def _template_call(rest: str, line: int) -> tuple[str, Pipeline | None]:
    m = re.match(r'^"((?:[^"\\]|\\.)*)"\s*(.*)$', rest, re.S)
    if m is None:
        raise TemplateSyntaxError(f"line {line}: template needs a quoted name")
    pipe = _parse_pipe(m.group(2), line) if m.group(2).strip() else None
    return m.group(1), pipe
