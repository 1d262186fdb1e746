"""The simulated host's shell: a deliberately small, honest subset of POSIX ``sh``.

Supported: words with single quotes, double quotes (without expansions) and backslash escapes,
command lists joined by ``&&``, ``||``, ``;`` or newlines, and the ``cd`` builtin. Anything a
real shell would expand or redirect (unquoted ``$``, backquotes, ``|``, ``<``, ``>``, ``(``,
globs, ``~``...) is refused with exit status 2 instead of being silently taken literally, so a
provider that forgets to quote is caught in the lab rather than on a real host.
"""

from __future__ import annotations

from dataclasses import dataclass


class ShellSyntaxError(Exception):
    pass


@dataclass(frozen=True)
class Operator:
    text: str  # "&&", "||" or ";"


Token = str | Operator

_UNSUPPORTED = set("$`|<>()*?[{}~#")
_SPACE = " \t"


def tokenize(line: str) -> list[Token]:
    """Split a command line into words and list operators, or raise ShellSyntaxError."""
    tokens: list[Token] = []
    word: list[str] = []
    in_word = False
    i, n = 0, len(line)

    def flush() -> None:
        nonlocal word, in_word
        if in_word:
            tokens.append("".join(word))
        word, in_word = [], False

    while i < n:
        c = line[i]
        if c in _SPACE:
            flush()
            i += 1
        elif c == "\n" or c == ";":
            flush()
            tokens.append(Operator(";"))
            i += 1
        elif c == "&" or c == "|":
            if line[i : i + 2] in ("&&", "||"):
                flush()
                tokens.append(Operator(line[i : i + 2]))
                i += 2
            else:
                raise ShellSyntaxError(f"unsupported unquoted {c!r} (background job or pipe)")
        elif c == "'":
            end = line.find("'", i + 1)
            if end < 0:
                raise ShellSyntaxError("unterminated quoted string")
            word.append(line[i + 1 : end])
            in_word = True
            i = end + 1
        elif c == '"':
            i += 1
            while True:
                if i >= n:
                    raise ShellSyntaxError("unterminated quoted string")
                d = line[i]
                if d == '"':
                    i += 1
                    break
                if d == "\\" and i + 1 < n and line[i + 1] in '$`"\\\n':
                    if line[i + 1] != "\n":
                        word.append(line[i + 1])
                    i += 2
                    continue
                if d in "$`":
                    raise ShellSyntaxError(f"unsupported expansion {d!r} in double quotes")
                word.append(d)
                i += 1
            in_word = True
        elif c == "\\":
            if i + 1 < n and line[i + 1] != "\n":
                word.append(line[i + 1])
            i += 2
            in_word = True
        elif c in _UNSUPPORTED and not (c == "#" and in_word) and not (c == "~" and in_word):
            raise ShellSyntaxError(f"unsupported unquoted {c!r}")
        else:
            word.append(c)
            in_word = True
            i += 1
    flush()
    return tokens


def split_lists(tokens: list[Token]) -> list[tuple[str, list[str]]]:
    """Group tokens into commands, each with the operator that precedes it (";" first)."""
    out: list[tuple[str, list[str]]] = []
    op = ";"
    current: list[str] = []
    for tok in tokens:
        if isinstance(tok, Operator):
            if not current:
                raise ShellSyntaxError(f"syntax error near unexpected token {tok.text!r}")
            out.append((op, current))
            op, current = tok.text, []
        else:
            current.append(tok)
    if current:
        out.append((op, current))
    elif op in ("&&", "||"):
        raise ShellSyntaxError(f"syntax error: command expected after {op!r}")
    return out
