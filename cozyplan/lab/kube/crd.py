"""CustomResourceDefinitions: the types they serve once Established, the CRD's own validation,
and custom objects validated, pruned and defaulted against the structural ``openAPIV3Schema``
(k8s.io/apiextensions-apiserver: pkg/apiserver/schema, validation and pruning)."""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

from cozyplan.lab.kube import fieldpath as fp
from cozyplan.lab.kube.errors import (
    FieldError,
    StatusError,
    bad_request,
    invalid,
    invalid_object,
    required,
    unsupported,
)
from cozyplan.lab.kube.jsoncopy import copy_json
from cozyplan.lab.kube.resources import ResourceType
from cozyplan.lab.kube.strategies import Column, Strategy

if TYPE_CHECKING:
    from cozyplan.lab.kube.store import Store

Obj = dict[str, Any]
CLEANUP_FINALIZER = "customresourcecleanup.apiextensions.k8s.io"


def condition(obj: Obj, kind: str) -> bool:
    for c in (obj.get("status") or {}).get("conditions") or []:
        if c.get("type") == kind:
            return bool(c.get("status") == "True")
    return False


def served_types(
    store: Store, crd_rt: ResourceType, all_versions: bool = False
) -> list[ResourceType]:
    out = []
    for obj in store.items(crd_rt):
        if not condition(obj, "Established"):
            continue
        spec = obj.get("spec") or {}
        names = spec.get("names") or {}
        for version in spec.get("versions") or []:
            if not version.get("served", True):
                continue
            if not all_versions and not version.get("storage"):
                continue
            subs = tuple(k for k in ("status", "scale") if k in (version.get("subresources") or {}))
            out.append(
                ResourceType(
                    group=str(spec.get("group", "")),
                    version=str(version.get("name")),
                    kind=str(names.get("kind")),
                    plural=str(names.get("plural")),
                    namespaced=spec.get("scope") == "Namespaced",
                    short_names=list(names.get("shortNames") or []),
                    subresources=subs,
                    categories=list(names.get("categories") or []),
                    crd_version=version,
                    singular=str(names.get("singular") or str(names.get("kind", "")).lower()),
                )
            )
    return out


# -- the CRD object -------------------------------------------------------------------------------
class CrdStrategy(Strategy):
    def defaults(self, obj: Obj) -> None:
        spec = obj.setdefault("spec", {})
        names = spec.setdefault("names", {})
        if names.get("kind"):
            names.setdefault("singular", str(names["kind"]).lower())
            names.setdefault("listKind", f"{names['kind']}List")
        spec.setdefault("conversion", {"strategy": "None"})
        for v in spec.get("versions") or []:
            if isinstance(v, dict):
                v.setdefault("served", True)

    def prepare_create(self, obj: Obj) -> None:
        obj["status"] = {
            "conditions": [],
            "acceptedNames": {"plural": "", "kind": ""},
            "storedVersions": [],
        }

    def validate(self, obj: Obj, old: Obj | None) -> list[FieldError]:
        spec = obj.get("spec") or {}
        names = spec.get("names") or {}
        out: list[FieldError] = []
        group, plural = spec.get("group"), names.get("plural")
        if not group:
            out.append(required("spec.group"))
        elif "." not in str(group):
            out.append(invalid("spec.group", group, "should be a domain with at least one dot"))
        if not plural:
            out.append(required("spec.names.plural"))
        if not names.get("kind"):
            out.append(required("spec.names.kind"))
        if group and plural and obj["metadata"].get("name") != f"{plural}.{group}":
            out.append(
                invalid(
                    "metadata.name",
                    obj["metadata"].get("name"),
                    'must be spec.names.plural+"."+spec.group',
                )
            )
        scope = spec.get("scope")
        if scope not in ("Cluster", "Namespaced"):
            out.append(unsupported("spec.scope", scope, ["Cluster", "Namespaced"]))
        versions = spec.get("versions") or []
        if not versions:
            out.append(
                required("spec.versions", "must have exactly one version marked as storage version")
            )
        elif sum(1 for v in versions if v.get("storage")) != 1:
            out.append(
                invalid(
                    "spec.versions",
                    versions,
                    "must have exactly one version marked as storage version",
                )
            )
        for i, v in enumerate(versions):
            schema = (v.get("schema") or {}).get("openAPIV3Schema")
            if schema is None:
                out.append(
                    required(f"spec.versions[{i}].schema.openAPIV3Schema", "schemas are required")
                )
            elif schema.get("type") != "object":
                out.append(
                    invalid(
                        f"spec.versions[{i}].schema.openAPIV3Schema.type",
                        schema.get("type"),
                        "must be object at the root",
                    )
                )
        if old is not None:
            old_spec = old.get("spec") or {}
            if old_spec.get("group") != group:
                out.append(invalid("spec.group", group, "field is immutable"))
            if old_spec.get("scope") != scope:
                out.append(invalid("spec.scope", scope, "field is immutable"))
        return out

    def columns(self) -> list[Column]:
        return [("Name", "string", "name"), ("Created At", "date", "")]

    def cells(self, obj: Obj) -> list[Any]:
        return [obj["metadata"]["name"], obj["metadata"].get("creationTimestamp", "")]


# -- custom objects -------------------------------------------------------------------------------
def _root_schema(rt: ResourceType) -> Obj:
    return ((rt.crd_version or {}).get("schema") or {}).get("openAPIV3Schema") or {}


def _schema_at(schema: Obj, names: tuple[str, ...]) -> Obj | None:
    node: Obj | None = schema
    for name in names:
        if node is None:
            return None
        if node.get("type") == "array":
            node = node.get("items")
            if node is None:
                return None
        props = node.get("properties") or {}
        if name in props:
            node = props[name]
        elif isinstance(node.get("additionalProperties"), dict):
            node = node["additionalProperties"]
        else:
            return None
    return node


class CustomStrategy(Strategy):
    def __init__(self, rt: ResourceType) -> None:
        super().__init__(rt)
        self.generation = True
        self.schema = _root_schema(rt)

    def list_types(self, path: tuple[str, ...]) -> fp.ListType:
        if path[:1] == ("metadata",):
            return fp.builtin_list_type(path)
        node = _schema_at(self.schema, path)
        if node is None:
            return fp.ATOMIC
        kind = node.get("x-kubernetes-list-type")
        if kind == "map":
            return ("map", tuple(node.get("x-kubernetes-list-map-keys") or ()))
        if kind == "set":
            return ("set", ())
        return fp.ATOMIC

    def supported_field_labels(self) -> set[str]:
        base = super().supported_field_labels()
        for sel in (self.rt.crd_version or {}).get("selectableFields") or []:
            base.add(str(sel.get("jsonPath", "")).lstrip("."))
        return base

    def columns(self) -> list[Column]:
        cols: list[Column] = [("Name", "string", "name")]
        for c in (self.rt.crd_version or {}).get("additionalPrinterColumns") or []:
            cols.append(
                (str(c.get("name")), str(c.get("type", "string")), str(c.get("format", "")))
            )
        return cols

    def cells(self, obj: Obj) -> list[Any]:
        out: list[Any] = [obj["metadata"]["name"]]
        for c in (self.rt.crd_version or {}).get("additionalPrinterColumns") or []:
            value = jsonpath(obj, str(c.get("jsonPath", "")))
            if isinstance(value, dict | list):
                value = json.dumps(value, separators=(",", ":"))
            out.append(value)
        return out


_JSONPATH_PART = re.compile(
    r"\.((?:[A-Za-z0-9_/-]|\\.)+)|\['((?:[^'\\]|\\.)*)'\]|\[(\d+)\]"
    r"|\[\?\(@\.([A-Za-z0-9_-]+)==[\"']([^\"']*)[\"']\)\]"
)


def jsonpath(obj: Any, path: str) -> Any:
    """The value at a printer column's simple JSONPath (``.a.b``, ``.x\\.y/z`` and ``['x\\.y']``
    (escaped dots, as capmox's ``.metadata.labels.cluster\\.x-k8s\\.io/cluster-name``), ``[0]``, and
    filters as Flux's ``.status.conditions[?(@.type=="Ready")].status``)."""
    node = obj
    for m in _JSONPATH_PART.finditer(path):
        field, quoted, index, fkey, fval = m.groups()
        if fkey is not None:
            items = node if isinstance(node, list) else []
            node = next(
                (i for i in items if isinstance(i, dict) and str(i.get(fkey)) == fval), None
            )
        elif index is not None:
            node = node[int(index)] if isinstance(node, list) and int(index) < len(node) else None
        else:
            key = re.sub(r"\\(.)", r"\1", field if field is not None else quoted)
            node = node.get(key) if isinstance(node, dict) else None
        if node is None:
            return None
    return node


def unknown_fields(rt: ResourceType, body: Obj) -> list[str]:
    """Paths of ``body`` its schema does not declare (``.spec.x``)."""
    from cozyplan.lab.kube import schema as structural

    schema = _root_schema(rt)
    return structural.prune(copy_json(body), schema, root=True) if schema else []


def check_fields(rt: ResourceType, body: Obj, directive: str, warnings: list[str]) -> None:
    """``fieldValidation``: Strict refuses unknown fields, Warn (the default) warns."""
    unknown = unknown_fields(rt, body)
    if not unknown or directive == "Ignore":
        return
    if directive == "Strict":
        listed = ", ".join(f'unknown field "{p.lstrip(".")}"' for p in unknown)
        raise bad_request(
            f'{rt.kind} in version "{rt.version}" cannot be handled as a {rt.kind}: strict '
            f"decoding error: {listed}"
        )
    warnings += [f'unknown field "{p.lstrip(".")}"' for p in unknown]


def check_apply(rt: ResourceType, body: Obj, namespace: str, name: str) -> None:
    """Server-side apply types the applied configuration: undeclared fields are refused."""
    unknown = unknown_fields(rt, body)
    if not unknown:
        return
    lines = [f"{p}: field not declared in schema" for p in unknown]
    text = lines[0] if len(lines) == 1 else "errors:\n" + "\n".join(f"  {line}" for line in lines)
    raise StatusError(
        500,
        "",
        f"failed to create typed patch object ({namespace}/{name}; {rt.api_version}, "
        f"Kind={rt.kind}): {text}",
    )


def admit(rt: ResourceType, body: Obj) -> Obj:
    """The object pruned of unknown fields, defaulted, then validated against its schema."""
    from cozyplan.lab.kube import schema as structural

    schema = _root_schema(rt)
    obj = copy_json(body)
    if not schema:
        return obj
    structural.prune(obj, schema, root=True)
    structural.default(obj, schema)
    errors = structural.validate(obj, schema)
    if errors:
        name = (obj.get("metadata") or {}).get("name", "")
        raise invalid_object(rt.group, rt.kind, name, errors)
    return obj
