"""Discovery documents: /version, /api, /apis, /apis/G/V, and the OpenAPI v3 index and per
group-version documents (enough for kubectl to see that PATCH takes ``fieldValidation``)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from typing import Any

from cozyplan.lab.kube.resources import GROUP_ORDER, ResourceType

KUBE_VERSION = "v1.33.3"
_SUB_VERBS = {
    "status": ["get", "patch", "update"],
    "scale": ["get", "patch", "update"],
    "log": ["get"],
}


def version() -> dict[str, Any]:
    major, minor, _ = KUBE_VERSION[1:].split(".")
    return {
        "major": major,
        "minor": minor,
        "emulationMajor": major,
        "emulationMinor": minor,
        "minCompatibilityMajor": major,
        "minCompatibilityMinor": str(int(minor) - 1),
        "gitVersion": KUBE_VERSION,
        "gitCommit": "80779bd6ff08b451e1c165a338a7b69351e9b0b8",
        "gitTreeState": "clean",
        "buildDate": "2025-07-15T18:06:16Z",
        "goVersion": "go1.24.4",
        "compiler": "gc",
        "platform": "linux/amd64",
    }


def _hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16].upper()


def resource_list(group_version: str, types: Iterable[ResourceType]) -> dict[str, Any]:
    resources: list[dict[str, Any]] = []
    for rt in sorted(types, key=lambda r: r.plural):
        entry: dict[str, Any] = {
            "name": rt.plural,
            "singularName": rt.singular_name(),
            "namespaced": rt.namespaced,
            "kind": rt.kind,
            "verbs": rt.verbs,
        }
        if rt.short_names:
            entry["shortNames"] = rt.short_names
        if rt.categories:
            entry["categories"] = rt.categories
        entry["storageVersionHash"] = _hash(f"{rt.group}/{rt.version}/{rt.kind}")[:12]
        resources.append(entry)
        for sub in rt.subresources:
            sub_entry: dict[str, Any] = {
                "name": f"{rt.plural}/{sub}",
                "singularName": "",
                "namespaced": rt.namespaced,
                "kind": rt.kind,
                "verbs": _SUB_VERBS.get(sub, ["get", "patch", "update"]),
            }
            if sub == "scale":
                sub_entry.update(group="autoscaling", version="v1", kind="Scale")
            resources.append(sub_entry)
        if rt.group == "" and rt.plural == "namespaces":
            resources.append(
                {
                    "name": "namespaces/finalize",
                    "singularName": "",
                    "namespaced": False,
                    "kind": "Namespace",
                    "verbs": ["update"],
                }
            )
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": group_version,
        "resources": resources,
    }


def groups(types: Iterable[ResourceType]) -> list[tuple[str, list[str]]]:
    """(group, versions in preference order) of every served group but the core one."""
    found: dict[str, list[str]] = {}
    for rt in types:
        if rt.group:
            versions = found.setdefault(rt.group, [])
            if rt.version not in versions:
                versions.append(rt.version)
    order = {g: i for i, g in enumerate(GROUP_ORDER)}
    return sorted(found.items(), key=lambda kv: (order.get(kv[0], len(order)), kv[0]))


def _group(group: str, versions: list[str]) -> dict[str, Any]:
    gvs = [{"groupVersion": f"{group}/{v}", "version": v} for v in versions]
    return {"name": group, "versions": gvs, "preferredVersion": gvs[0]}


def api_group(group: str, versions: list[str]) -> dict[str, Any]:
    return {"kind": "APIGroup", "apiVersion": "v1", **_group(group, versions)}


def api_group_list(types: Iterable[ResourceType]) -> dict[str, Any]:
    return {
        "kind": "APIGroupList",
        "apiVersion": "v1",
        "groups": [_group(g, vs) for g, vs in groups(types)],
    }


def api_versions(address: str) -> dict[str, Any]:
    return {
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": address}],
    }


# -- OpenAPI v3 -----------------------------------------------------------------------------------
def gv_path(group: str, version: str) -> str:
    return f"apis/{group}/{version}" if group else f"api/{version}"


def openapi_index(types: Iterable[ResourceType]) -> dict[str, Any]:
    paths: dict[str, Any] = {}
    for rt in types:
        gvp = gv_path(rt.group, rt.version)
        if gvp not in paths:
            paths[gvp] = {"serverRelativeURL": f"/openapi/v3/{gvp}"}
    for gvp, entry in paths.items():
        doc = json.dumps(openapi_gv([rt for rt in types if gv_path(rt.group, rt.version) == gvp]))
        entry["serverRelativeURL"] += "?hash=" + _hash(doc)
    return {"paths": dict(sorted(paths.items()))}


def _schema_name(rt: ResourceType) -> str:
    group = rt.group or "core"
    return f"io.k8s.lab.{group}.{rt.version}.{rt.kind}"


def openapi_gv(types: list[ResourceType]) -> dict[str, Any]:
    paths: dict[str, Any] = {}
    schemas: dict[str, Any] = {}
    params = [
        {"name": n, "in": "query", "schema": {"type": "string", "uniqueItems": True}}
        for n in ("dryRun", "fieldManager", "fieldValidation", "force")
    ]
    for rt in types:
        gvk = {"group": rt.group, "version": rt.version, "kind": rt.kind}
        base = "/" + gv_path(rt.group, rt.version)
        if rt.namespaced:
            base += "/namespaces/{namespace}"
        item = f"{base}/{rt.plural}/{{name}}"
        ref = {"$ref": f"#/components/schemas/{_schema_name(rt)}"}
        ok = {"200": {"description": "OK", "content": {"application/json": {"schema": ref}}}}
        op = {"x-kubernetes-group-version-kind": gvk, "parameters": params, "responses": ok}
        paths[item] = {
            "get": {**op, "x-kubernetes-action": "get", "parameters": []},
            "put": {**op, "x-kubernetes-action": "put"},
            "patch": {**op, "x-kubernetes-action": "patch"},
            "delete": {**op, "x-kubernetes-action": "delete", "parameters": params[:1]},
        }
        paths[f"{base}/{rt.plural}"] = {"post": {**op, "x-kubernetes-action": "post"}}
        schema: dict[str, Any] = {"type": "object", "x-kubernetes-group-version-kind": [gvk]}
        crd_schema = ((rt.crd_version or {}).get("schema") or {}).get("openAPIV3Schema")
        if crd_schema:
            schema = {**crd_schema, "x-kubernetes-group-version-kind": [gvk]}
        schemas[_schema_name(rt)] = schema
    return {
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": KUBE_VERSION},
        "paths": paths,
        "components": {"schemas": schemas},
    }
