"""Helm's template context: ``.Values``, ``.Files``, ``.Capabilities``, ``lookup``, ``tpl``.

``lookup(apiVersion, kind, namespace, name)`` is supplied by the caller: the provider answers
from the objects it is about to create, the lab from its API server's store. As in Helm, a
missing object is an empty mapping and a list (empty name) is ``{"items": [...]}``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cozyplan.upstream.gotemplate.execute import Engine
from cozyplan.upstream.gotemplate.functions import builtin_functions
from cozyplan.upstream.gotemplate.parse import parse

Lookup = Callable[[str, str, str, str], dict[str, Any]]


def _no_objects(api_version: str, kind: str, namespace: str, name: str) -> dict[str, Any]:
    return {}


class _Files:
    def __init__(self, root: Path) -> None:
        self._root = root

    def Get(self, path: str) -> str:
        target = (self._root / path).resolve()
        if self._root.resolve() not in target.parents or not target.is_file():
            return ""
        return target.read_text()


class _APIVersions:
    def __init__(self, served: Iterable[str]) -> None:
        self._served = frozenset(served)

    def Has(self, version: str) -> bool:
        return version in self._served


@dataclass
class HelmContext:
    """What one chart render sees of the cluster."""

    chart_dir: Path
    values: Mapping[str, Any] = field(default_factory=dict)
    lookup: Lookup = _no_objects
    api_versions: Iterable[str] = ()
    release_name: str = "release"
    release_namespace: str = "default"


def _engine(ctx: HelmContext) -> tuple[Engine, dict[str, Any]]:
    funcs = builtin_functions()
    engine = Engine(funcs)
    data = {
        "Values": dict(ctx.values),
        "Files": _Files(ctx.chart_dir),
        "Capabilities": {"APIVersions": _APIVersions(ctx.api_versions)},
        "Release": {"Name": ctx.release_name, "Namespace": ctx.release_namespace},
        "Chart": {"Name": ctx.chart_dir.name},
    }
    counter = [0]

    def tpl(text: str, context: Any) -> str:
        counter[0] += 1
        name = f"tpl-{counter[0]}"
        engine.add(name, parse(text, name))
        return engine.render(name, context)

    funcs["lookup"] = ctx.lookup
    funcs["include"] = engine.include
    funcs["tpl"] = tpl
    templates = ctx.chart_dir / "templates"
    if templates.is_dir():
        for helper in sorted(templates.glob("_*.tpl")):
            engine.add(helper.name, parse(helper.read_text(), helper.name))
    return engine, data


def render_chart_file(ctx: HelmContext, relative: str) -> str:
    """Render one file of the chart (e.g. ``templates/helmreleases.yaml``) as ``helm template``."""
    engine, data = _engine(ctx)
    path = ctx.chart_dir / relative
    engine.add(relative, parse(path.read_text(), relative))
    return engine.render(relative, data)


def render_string(ctx: HelmContext, text: str, name: str = "inline") -> str:
    """Render a template given as text in the chart's context (helpers and files available)."""
    engine, data = _engine(ctx)
    engine.add(name, parse(text, name))
    return engine.render(name, data)
