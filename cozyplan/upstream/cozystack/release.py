"""One CozyStack release's files: bundles, platform chart, installer manifest, app definitions.

Everything here is computed by rendering upstream's own templates (``helm template`` of the
platform chart, as the installer does), never retyped.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache, cached_property
from pathlib import Path
from typing import Any

from cozyplan import plainyaml
from cozyplan.upstream.gotemplate import HelmContext, render_chart_file, render_string
from cozyplan.upstream.gotemplate.helm import Lookup

DATA = Path(__file__).parent / "data"
SYSTEM_APP_LABEL = "cozystack.io/system-app"
DELETION_LABEL = "cozystack.io/marked-for-deletion"
HELMRELEASE_API = "helm.toolkit.fluxcd.io/v2"


class UnknownVersion(ValueError):
    pass


def known_versions() -> list[str]:
    return sorted(p.name for p in DATA.iterdir() if p.is_dir() and p.name.startswith("v"))


@dataclass(frozen=True)
class BundleEntry:
    """One entry of a bundle file, as rendered for a ConfigMap."""

    name: str
    release_name: str
    chart: str
    namespace: str
    depends_on: tuple[str, ...]
    optional: bool
    privileged: bool


@dataclass(frozen=True)
class AppDefinition:
    """An ``apps.cozystack.io`` kind from a CozystackResourceDefinition."""

    kind: str
    singular: str
    plural: str
    prefix: str
    chart: str
    schema: dict[str, Any]


def _node_list(nodes: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "NodeList", "items": [dict(n) for n in nodes]}


def configmap_lookup(
    data: Mapping[str, str], nodes: Sequence[Mapping[str, Any]] = (), base: Lookup | None = None
) -> Lookup:
    """A ``lookup`` that answers the ConfigMap ``cozy-system/cozystack`` and the Node list."""

    def lookup(api_version: str, kind: str, namespace: str, name: str) -> dict[str, Any]:
        if (api_version, kind, namespace, name) == ("v1", "ConfigMap", "cozy-system", "cozystack"):
            return {"apiVersion": "v1", "kind": "ConfigMap", "data": dict(data)}
        if (api_version, kind, name) == ("v1", "Node", ""):
            return _node_list(nodes)
        return base(api_version, kind, namespace, name) if base else {}

    return lookup


#: Helm's install order (pkg/releaseutil/kind_sorter.go), for the kinds these charts render
INSTALL_ORDER = (
    "Namespace",
    "CustomResourceDefinition",
    "ServiceAccount",
    "Secret",
    "ConfigMap",
    "ClusterRole",
    "ClusterRoleBinding",
    "Service",
    "Deployment",
)


def _install_order(obj: dict[str, Any]) -> int:
    kind = obj.get("kind")
    return INSTALL_ORDER.index(kind) if kind in INSTALL_ORDER else len(INSTALL_ORDER)


def _docs(text: str) -> list[dict[str, Any]]:
    return [d for d in plainyaml.load_all(text) if isinstance(d, dict)]


class Release:
    """The files of one CozyStack version (``release("v0.37.2")``)."""

    def __init__(self, version: str) -> None:
        root = DATA / version
        if not root.is_dir():
            raise UnknownVersion(
                f"unknown CozyStack version {version!r} (known: {', '.join(known_versions())})"
            )
        self.version = version
        self.root = root
        self.platform = root / "platform"

    # ---- bundles -------------------------------------------------------------------------
    def bundle_names(self) -> list[str]:
        return sorted(p.stem for p in (self.platform / "bundles").glob("*.yaml"))

    def bundle_entries(
        self, bundle: str, data: Mapping[str, str], nodes: Sequence[Mapping[str, Any]] = ()
    ) -> list[BundleEntry]:
        """Every entry of the bundle file rendered for this ConfigMap (optional ones too).

        Raises ``TemplateError`` with the bundle's own message (``fail``) when the ConfigMap
        lacks what the bundle requires.
        """
        if bundle not in self.bundle_names():
            raise ValueError(
                f"bundle {bundle!r} does not exist in CozyStack {self.version} "
                f"(bundles: {', '.join(self.bundle_names())})"
            )
        ctx = HelmContext(self.platform, lookup=configmap_lookup(data, nodes))
        text = render_string(ctx, f'{{{{ tpl (.Files.Get "bundles/{bundle}.yaml") . }}}}')
        doc = plainyaml.load(text) or {}
        out = []
        for item in doc.get("releases") or []:
            out.append(
                BundleEntry(
                    name=item["name"],
                    release_name=item.get("releaseName") or item["name"],
                    chart=item["chart"],
                    namespace=item["namespace"],
                    depends_on=tuple(item.get("dependsOn") or ()),
                    optional=bool(item.get("optional", False)),
                    privileged=bool(item.get("privileged", False)),
                )
            )
        return out

    # ---- the platform chart --------------------------------------------------------------
    def platform_objects(
        self, lookup: Lookup, api_versions: Sequence[str] = (), template: str | None = None
    ) -> list[dict[str, Any]]:
        """What ``helm template`` of the platform chart renders (the installer applies it)."""
        ctx = HelmContext(
            self.platform, lookup=lookup, api_versions=api_versions, release_name="platform"
        )
        names = (
            [template]
            if template
            else sorted(
                p.name
                for p in (self.platform / "templates").iterdir()
                if p.suffix == ".yaml" and not p.name.startswith("_")
            )
        )
        objects: list[dict[str, Any]] = []
        for name in names:
            objects.extend(_docs(render_chart_file(ctx, f"templates/{name}")))
        return sorted(objects, key=_install_order)

    def system_helmreleases(
        self,
        data: Mapping[str, str],
        nodes: Sequence[Mapping[str, Any]] = (),
    ) -> list[dict[str, Any]]:
        """The HelmReleases labelled ``cozystack.io/system-app`` this ConfigMap asks for.

        Rendered from ``templates/helmreleases.yaml`` on a cluster without Flux yet, so no
        release is marked for deletion: exactly the set upstream's e2e waits for.
        """
        objs = self.platform_objects(configmap_lookup(data, nodes), template="helmreleases.yaml")
        return [
            o
            for o in objs
            if o.get("kind") == "HelmRelease"
            and (o["metadata"].get("labels") or {}).get(DELETION_LABEL) != "true"
        ]

    # ---- installer -----------------------------------------------------------------------
    def installer_manifest(self) -> list[dict[str, Any]]:
        """``cozystack-installer.yaml``: the installer chart's template with its values."""
        installer = self.root / "installer"
        values = plainyaml.load_data_file(installer / "values.yaml") or {}
        ctx = HelmContext(installer, values=values, release_name="cozystack")
        return _docs(render_string(ctx, (installer / "cozystack.yaml").read_text(), "cozystack"))

    # ---- apps ----------------------------------------------------------------------------
    def app_definitions(self) -> dict[str, AppDefinition]:
        """Every ``apps.cozystack.io`` kind this release defines (read once per process; the
        definitions are shared, treat their schemas as read-only)."""
        return dict(self._app_definitions)

    @cached_property
    def _app_definitions(self) -> dict[str, AppDefinition]:
        out: dict[str, AppDefinition] = {}
        for path in sorted((self.root / "cozyrds").glob("*.yaml")):
            for doc in plainyaml.load_all_data_file(path):
                spec = doc["spec"]
                app = spec["application"]
                release = spec.get("release") or {}
                out[app["kind"]] = AppDefinition(
                    kind=app["kind"],
                    singular=app["singular"],
                    plural=app["plural"],
                    prefix=release.get("prefix", ""),
                    chart=(release.get("chart") or {}).get("name", ""),
                    schema=json.loads(app.get("openAPISchema") or "{}"),
                )
        return out

    def app_chart_values(self, chart: str) -> dict[str, Any]:
        """The chart's ``values.yaml`` (Helm merges the app's spec over it)."""
        path = self.root / "apps" / chart / "values.yaml"
        if not path.is_file():
            return {}
        return plainyaml.load_data_file(path) or {}

    def app_values_schema(self, chart: str) -> dict[str, Any] | None:
        path = self.root / "apps" / chart / "values.schema.json"
        if not path.is_file():
            return None
        result: dict[str, Any] = json.loads(path.read_text())
        return result


@cache
def release(version: str) -> Release:
    return Release(version)


def dependency_levels(
    names: Sequence[str], depends_on: Mapping[str, Sequence[str]]
) -> dict[str, int]:
    """Each release's depth in the dependsOn graph (0 = depends on nothing present)."""
    present = set(names)
    levels: dict[str, int] = {}

    def level(name: str, trail: tuple[str, ...]) -> int:
        if name in levels:
            return levels[name]
        if name in trail:
            raise ValueError(f"dependsOn cycle: {' -> '.join((*trail, name))}")
        deps = [d for d in depends_on.get(name, ()) if d in present]
        levels[name] = 0 if not deps else 1 + max(level(d, (*trail, name)) for d in deps)
        return levels[name]

    for name in names:
        level(name, ())
    return levels


def helmrelease_depends(hr: Mapping[str, Any]) -> list[str]:
    return [d["name"] for d in (hr.get("spec") or {}).get("dependsOn") or []]
