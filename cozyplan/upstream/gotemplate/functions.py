"""Go's built-in template functions and the Sprig/Helm functions charts here use.

Each follows its Go implementation's behaviour for the inputs charts pass (Go's ``eq`` with a
nil operand is false, Sprig's ``merge`` keeps the destination's values and ``mergeOverwrite``
replaces them, Helm's ``toYaml`` sorts keys and drops the final newline).
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
from collections.abc import Callable, Mapping
from typing import Any

import yaml

from cozyplan import plainyaml
from cozyplan.upstream.gotemplate.execute import TemplateError, format_value, truthy


def _kind(value: Any) -> str:
    if value is None:
        return "invalid"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "string"
    return "other"


def eq(arg1: Any, *args: Any) -> bool:
    if not args:
        raise TemplateError("missing argument for comparison")
    k1 = _kind(arg1)
    for arg in args:
        k2 = _kind(arg)
        if k1 != k2:
            if {k1, k2} <= {"int", "float"}:
                if arg1 == arg:
                    return True
                continue
            if k1 != "invalid" and k2 != "invalid":
                raise TemplateError("incompatible types for comparison")
            continue
        if k1 == "other":
            raise TemplateError("non-comparable types for comparison")
        if arg1 == arg:
            return True
    return False


def ne(arg1: Any, arg2: Any) -> bool:
    return not eq(arg1, arg2)


def index(item: Any, *keys: Any) -> Any:
    if item is None:
        raise TemplateError("index of untyped nil")
    for key in keys:
        if isinstance(item, Mapping):
            item = item.get(key)
        elif isinstance(item, list | tuple | str):
            if not isinstance(key, int) or not 0 <= key < len(item):
                raise TemplateError(f"index out of range: {key}")
            item = item[key]
        elif item is None:
            return None
        else:
            raise TemplateError(f"can't index item of type {type(item).__name__}")
    return item


def default(dflt: Any, *given: Any) -> Any:
    if not given or not truthy(given[0]):
        return dflt
    return given[0]


def fail(message: str) -> Any:
    raise TemplateError(message)


def required(message: str, value: Any) -> Any:
    if value is None or value == "":
        raise TemplateError(message)
    return value


def dig(*args: Any) -> Any:
    if len(args) < 3:
        raise TemplateError("dig needs at least three arguments")
    *keys, dflt, data = args
    cur: Any = data
    for key in keys:
        if not isinstance(cur, Mapping) or key not in cur:
            return dflt
        cur = cur[key]
    return cur


def _merge(dst: dict[str, Any], src: Mapping[str, Any], overwrite: bool) -> dict[str, Any]:
    for key, value in src.items():
        if key in dst and isinstance(dst[key], dict) and isinstance(value, Mapping):
            _merge(dst[key], value, overwrite)
        elif key not in dst or overwrite or dst[key] is None:
            dst[key] = copy.deepcopy(value)
    return dst


def merge(dst: dict[str, Any], *srcs: Mapping[str, Any]) -> dict[str, Any]:
    for src in srcs:
        _merge(dst, src or {}, overwrite=False)
    return dst


def merge_overwrite(dst: dict[str, Any], *srcs: Mapping[str, Any]) -> dict[str, Any]:
    for src in srcs:
        _merge(dst, src or {}, overwrite=True)
    return dst


def to_yaml(value: Any) -> str:
    if value is None:
        return "null"
    text = yaml.safe_dump(value, sort_keys=True, default_flow_style=False, width=1 << 30)
    if text.endswith("...\n"):
        text = text[: -len("...\n")]
    return text.rstrip("\n")


def from_yaml(text: Any) -> dict[str, Any]:
    if text is None or text == "":
        return {}
    try:
        value = plainyaml.load(str(text))
    except yaml.YAMLError as exc:
        return {"Error": str(exc)}
    if value is None:
        return {}
    if not isinstance(value, dict):
        return {"Error": "error unmarshaling JSON: cannot unmarshal into a map"}
    return value


def to_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def indent(spaces: int, text: str) -> str:
    pad = " " * spaces
    return pad + str(text).replace("\n", "\n" + pad)


def nindent(spaces: int, text: str) -> str:
    return "\n" + indent(spaces, text)


def quote(*values: Any) -> str:
    return " ".join(json.dumps(format_value(v)) for v in values if v is not None)


def has(needle: Any, haystack: Any) -> bool:
    if haystack is None:
        return False
    return any(needle == item for item in haystack)


def has_key(mapping: Mapping[str, Any], key: str) -> bool:
    return key in (mapping or {})


def set_(mapping: dict[str, Any], key: str, value: Any) -> dict[str, Any]:
    mapping[key] = value
    return mapping


def dict_(*pairs: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for i in range(0, len(pairs), 2):
        out[format_value(pairs[i])] = pairs[i + 1] if i + 1 < len(pairs) else ""
    return out


_VERB = re.compile(r"%([-+# 0]*\d*(?:\.\d+)?)([a-zA-Z%])")


def printf(fmt: str, *args: Any) -> str:
    it = iter(args)

    def sub(m: re.Match[str]) -> str:
        verb = m.group(2)
        if verb == "%":
            return "%"
        try:
            arg = next(it)
        except StopIteration:
            return f"%!{verb}(MISSING)"
        if verb == "q":
            return json.dumps(format_value(arg))
        return format_value(arg)

    return _VERB.sub(sub, fmt)


def split_list(sep: str, text: str) -> list[str]:
    return str(text).split(sep)


def builtin_functions() -> dict[str, Callable[..., Any]]:
    """The functions every template gets (``lookup``/``include``/``tpl`` are added per run)."""
    return {
        "eq": eq,
        "ne": ne,
        "not": lambda v: not truthy(v),
        "index": index,
        "len": lambda v: 0 if v is None else len(v),
        "print": lambda *a: "".join(format_value(v) for v in a),
        "printf": printf,
        "default": default,
        "empty": lambda v: not truthy(v),
        "fail": fail,
        "required": required,
        "dig": dig,
        "merge": merge,
        "mergeOverwrite": merge_overwrite,
        "deepCopy": copy.deepcopy,
        "toYaml": to_yaml,
        "fromYaml": from_yaml,
        "toJson": to_json,
        "indent": indent,
        "nindent": nindent,
        "quote": quote,
        "sha256sum": lambda s: hashlib.sha256(str(s).encode()).hexdigest(),
        "has": has,
        "hasKey": has_key,
        "set": set_,
        "dict": dict_,
        "list": lambda *items: list(items),
        "append": lambda items, item: [*(items or []), item],
        "join": lambda sep, items: sep.join(format_value(v) for v in (items or [])),
        "splitList": split_list,
        "trim": lambda s: str(s).strip(),
        "lower": lambda s: str(s).lower(),
        "upper": lambda s: str(s).upper(),
        "toString": format_value,
    }
