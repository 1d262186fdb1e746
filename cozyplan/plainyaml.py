"""YAML to plain data (no positions), with libyaml's C parser when PyYAML was built with it.

For data files and documents nobody edits by hand here (upstream's charts, bundles and
resource definitions, rendered templates, secrets' payloads): PyYAML's pure-Python loader
took ~10 ms per CozyStack app definition, the C one about a tenth of that, with the same
YAML 1.1 resolution (``yaml.CSafeLoader`` is ``SafeLoader``'s constructor on libyaml's
parser). Specs, which need file:line for errors, go through ``cozyplan.spec.yamlpos``.
The data files cozyplan ships are parsed once per user (``load_data_file``, see
``cozyplan.datacache``).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from cozyplan import datacache

try:
    Loader: type[yaml.SafeLoader] = yaml.CSafeLoader  # type: ignore[assignment]
except AttributeError:  # PyYAML without libyaml
    Loader = yaml.SafeLoader

YAMLError = yaml.YAMLError


def load(text: str | bytes) -> Any:
    """``yaml.safe_load``, faster."""
    return yaml.load(text, Loader=Loader)


def load_all(text: str | bytes) -> Iterator[Any]:
    """``yaml.safe_load_all``, faster."""
    return yaml.load_all(text, Loader=Loader)


def load_data_file(path: Path) -> Any:
    """``load`` of a data file shipped with cozyplan, through the per-user parse cache."""
    return datacache.cached_parse(path, "yaml", lambda p: load(p.read_text()))


def load_all_data_file(path: Path) -> list[dict[str, Any]]:
    """The mapping documents of a data file shipped with cozyplan (``load_all``; the empty
    documents a ``---`` leaves and any scalar are left out), cached likewise."""
    docs: list[dict[str, Any]] = datacache.cached_parse(
        path,
        "yaml-mappings",
        lambda p: [d for d in load_all(p.read_text()) if isinstance(d, dict)],
    )
    return docs
