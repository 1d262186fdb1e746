"""The JSON Schema of spec files, generated from the installed providers' models."""

from __future__ import annotations

import copy
from typing import Any

from cozyplan import registry
from cozyplan.spec.model import BackendSpec, LifecycleSpec, VariableSpec

TEMPLATE = {"type": "string", "pattern": r"\$\{[^}]+\}", "description": "an ${...} expression"}


def _templated(schema: dict[str, Any]) -> dict[str, Any]:
    """Every field may also be an ``${...}`` expression."""
    out = copy.deepcopy(schema)
    props = out.get("properties", {})
    for name, prop in list(props.items()):
        props[name] = (
            {"anyOf": [prop, TEMPLATE]}
            if "anyOf" not in prop
            else {**prop, "anyOf": [*prop["anyOf"], TEMPLATE]}
        )
    return out


def spec_json_schema() -> dict[str, Any]:
    provider_props: dict[str, Any] = {}
    defs: dict[str, Any] = {}
    meta = {
        "for_each": {
            "anyOf": [{"type": "object"}, {"type": "array", "items": {"type": "string"}}, TEMPLATE]
        },
        "count": {"anyOf": [{"type": "integer", "minimum": 0}, TEMPLATE]},
        "depends_on": {"type": "array", "items": {"type": "string"}},
        "lifecycle": LifecycleSpec.model_json_schema(),
    }
    patterns: dict[str, Any] = {}
    for name in registry.available():
        cls = registry.provider_class(name)
        if cls is None:
            continue
        pschema = cls.config_model.model_json_schema()
        defs.update(pschema.pop("$defs", {}))
        provider_props[name] = _templated(pschema)
        for rt in cls.resource_types:
            body = rt.model.model_json_schema()
            defs.update(body.pop("$defs", {}))
            schema_ = rt.schema()
            for fname, spec in schema_.fields.items():
                if not spec.settable:
                    body.get("properties", {}).pop(fname, None)
            body = _templated(body)
            body.setdefault("properties", {}).update(meta)
            body["description"] = rt.description or rt.type_name
            patterns[rf"^{rt.type_name}\.[A-Za-z_][A-Za-z0-9_-]*$"] = body
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "cozyplan spec",
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "version": {"const": 1},
            "variables": {
                "type": "object",
                "additionalProperties": VariableSpec.model_json_schema(),
            },
            "providers": {
                "type": "object",
                "properties": provider_props,
                "additionalProperties": False,
            },
            "resources": {
                "type": "object",
                "patternProperties": patterns,
                "additionalProperties": False,
            },
            "backend": BackendSpec.model_json_schema(by_alias=True),
        },
        "$defs": defs,
    }
