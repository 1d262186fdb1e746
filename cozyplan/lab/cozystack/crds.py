"""The CustomResourceDefinitions the platform's charts bring, for the lab.

Flux's, MetalLB's and piraeus' CRDs are registered with open schemas (the lab checks what
these resources do, not every field of them). The ``apps.cozystack.io`` kinds are served from
the release's ``CozystackResourceDefinition``s with their real ``openAPISchema`` as the spec's
schema, so the API server validates, defaults and prunes an app's spec as the cozystack-api
does. (The real cozystack-api is an aggregated server that stores apps as HelmReleases; here the
group is served by CRDs and a controller keeps each app's HelmRelease.)
"""

from __future__ import annotations

import copy
from typing import Any

from cozyplan.upstream.cozystack import AppDefinition

Obj = dict[str, Any]

OPEN = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}

READY_COLUMNS = [
    {
        "name": "Ready",
        "type": "string",
        "jsonPath": '.status.conditions[?(@.type=="Ready")].status',
    },
    {
        "name": "Status",
        "type": "string",
        "jsonPath": '.status.conditions[?(@.type=="Ready")].message',
    },
]


def crd(
    group: str,
    version: str,
    kind: str,
    plural: str,
    *,
    namespaced: bool = True,
    short: tuple[str, ...] = (),
    spec_schema: Obj | None = None,
    columns: list[Obj] | None = None,
    singular: str | None = None,
) -> Obj:
    schema: Obj = {
        "type": "object",
        "properties": {
            "spec": copy.deepcopy(spec_schema) if spec_schema else OPEN,
            "status": OPEN,
        },
    }
    version_doc: Obj = {
        "name": version,
        "served": True,
        "storage": True,
        "schema": {"openAPIV3Schema": schema},
        "subresources": {"status": {}},
    }
    if columns:
        version_doc["additionalPrinterColumns"] = columns
    names: Obj = {
        "kind": kind,
        "listKind": f"{kind}List",
        "plural": plural,
        "singular": singular or kind.lower(),
    }
    if short:
        names["shortNames"] = list(short)
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.{group}"},
        "spec": {
            "group": group,
            "names": names,
            "scope": "Namespaced" if namespaced else "Cluster",
            "versions": [version_doc],
        },
    }


def flux() -> list[Obj]:
    return [
        crd(
            "helm.toolkit.fluxcd.io",
            "v2",
            "HelmRelease",
            "helmreleases",
            short=("hr",),
            columns=READY_COLUMNS,
        ),
        crd(
            "source.toolkit.fluxcd.io",
            "v1",
            "HelmRepository",
            "helmrepositories",
            short=("helmrepo",),
            columns=READY_COLUMNS,
        ),
    ]


def metallb() -> list[Obj]:
    return [
        crd("metallb.io", "v1beta1", "IPAddressPool", "ipaddresspools"),
        crd("metallb.io", "v1beta1", "L2Advertisement", "l2advertisements"),
    ]


def piraeus() -> list[Obj]:
    return [
        crd("piraeus.io", "v1", "LinstorCluster", "linstorclusters", namespaced=False),
        crd("piraeus.io", "v1", "LinstorSatellite", "linstorsatellites", namespaced=False),
        crd(
            "piraeus.io",
            "v1",
            "LinstorSatelliteConfiguration",
            "linstorsatelliteconfigurations",
            namespaced=False,
        ),
    ]


def _structural(schema: Any) -> Any:
    """The cozyrd schema as the cozystack-api applies it: for defaulting and pruning. It does
    not enforce ``required`` (Helm checks the chart's values.schema.json at install), so
    neither may the lab's CRD; ``title`` is not allowed in a CRD schema."""
    if isinstance(schema, dict):
        return {
            k: _structural(v)
            for k, v in schema.items()
            if k not in ("title", "$schema") and not (k == "required" and isinstance(v, list))
        }
    if isinstance(schema, list):
        return [_structural(v) for v in schema]
    return schema


def apps(definitions: dict[str, AppDefinition]) -> list[Obj]:
    out = []
    for d in definitions.values():
        spec_schema = _structural(d.schema) if d.schema else OPEN
        out.append(
            crd(
                "apps.cozystack.io",
                "v1alpha1",
                d.kind,
                d.plural,
                singular=d.singular,
                spec_schema=spec_schema,
                columns=READY_COLUMNS,
            )
        )
    return out
