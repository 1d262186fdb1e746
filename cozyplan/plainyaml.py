"""YAML to plain data (no positions), with libyaml's C parser when PyYAML was built with it.

For data files and documents nobody edits by hand here (upstream's charts, bundles and
resource definitions, rendered templates, secrets' payloads): PyYAML's pure-Python loader
took ~10 ms per CozyStack app definition, the C one about a tenth of that, with the same
YAML 1.1 resolution (``yaml.CSafeLoader`` is ``SafeLoader``'s constructor on libyaml's
parser). Specs, which need file:line for errors, go through ``cozyplan.spec.yamlpos``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import yaml

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
