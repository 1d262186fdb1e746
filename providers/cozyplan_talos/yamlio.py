"""YAML in and out, shaped like Talos writes it (4-space maps, insertion order kept)."""

from __future__ import annotations

import io
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

__all__ = ["YAMLError", "dump", "dump_all", "load", "load_all"]


def _dumper() -> YAML:
    y = YAML(typ="rt", pure=True)
    y.default_flow_style = False
    y.indent(mapping=4, sequence=4, offset=2)
    y.width = 4096
    return y


def _plain(value: Any) -> Any:
    """ruamel's round-trip containers turned into plain dicts and lists."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def dump(doc: Any) -> str:
    out = io.StringIO()
    _dumper().dump(doc, out)
    return out.getvalue()


def dump_all(docs: list[Any]) -> str:
    return "---\n".join(dump(d) for d in docs)


def load(text: str) -> Any:
    # the C parser (ruamel.yaml.clib): the pure-Python one took ~35 ms per machine config
    return _plain(YAML(typ="safe").load(text))


def load_all(text: str) -> list[Any]:
    return [_plain(d) for d in YAML(typ="safe").load_all(text) if d is not None]
