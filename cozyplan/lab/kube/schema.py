"""Structural schemas: pruning, defaulting and validation of custom objects, with the messages
of kube-openapi's validator as the apiextensions-apiserver reports them."""

from __future__ import annotations

import functools
import re
import sys
from typing import Any

from cozyplan.lab.kube.errors import FieldError, required, unsupported
from cozyplan.lab.kube.jsoncopy import copy_json

Obj = dict[str, Any]
_GO_TYPES = {
    "object": "object",
    "array": "array",
    "string": "string",
    "integer": "integer",
    "number": "number",
    "boolean": "boolean",
}


def _preserve(schema: Obj) -> bool:
    return bool(schema.get("x-kubernetes-preserve-unknown-fields"))


def prune(value: Any, schema: Obj, root: bool = False, path: str = "") -> list[str]:
    """Remove the fields the schema does not declare; return their paths (``.spec.x``)."""
    removed: list[str] = []
    _prune(value, schema, root, path, removed)
    return removed


def _prune(value: Any, schema: Obj, root: bool, path: str, removed: list[str]) -> None:
    if isinstance(value, dict):
        props: Obj = schema.get("properties") or {}
        extra = schema.get("additionalProperties")
        keep_meta = root or schema.get("x-kubernetes-embedded-resource")
        for key in list(value):
            if keep_meta and key in ("apiVersion", "kind", "metadata"):
                continue
            here = f"{path}.{key}"
            if key in props:
                _prune(value[key], props[key], False, here, removed)
            elif isinstance(extra, dict):
                _prune(value[key], extra, False, here, removed)
            elif extra is True or _preserve(schema):
                continue
            else:
                removed.append(here)
                del value[key]
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for i, item in enumerate(value):
            _prune(item, schema["items"], False, f"{path}[{i}]", removed)


def default(value: Any, schema: Obj) -> None:
    if isinstance(value, dict):
        for key, sub in (schema.get("properties") or {}).items():
            if key not in value and "default" in sub:
                value[key] = copy_json(sub["default"])
            if key in value:
                default(value[key], sub)
        extra = schema.get("additionalProperties")
        if isinstance(extra, dict):
            for key in value:
                if key not in (schema.get("properties") or {}):
                    default(value[key], extra)
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for item in value:
            default(item, schema["items"])


def _type_of(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "integer" if value.is_integer() else "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _type_ok(value: Any, schema: Obj) -> bool:
    want = schema.get("type")
    got = _type_of(value)
    if schema.get("x-kubernetes-int-or-string"):
        return got in ("integer", "string")
    if got == "null":
        return bool(schema.get("nullable")) or not want
    if not want:
        return True
    if want == "number":
        return got in ("integer", "number")
    return bool(got == want)


def validate(obj: Obj, schema: Obj) -> list[FieldError]:
    """Schema errors, then (when no value has the wrong type) the CEL rules, as the
    apiextensions strategy runs them."""
    out: list[FieldError] = []
    for key, sub in (schema.get("properties") or {}).items():
        if key in ("apiVersion", "kind", "metadata") or key not in obj:
            continue
        _validate(obj[key], sub, key, out)
    for key in schema.get("required") or []:
        if key not in obj and key not in ("apiVersion", "kind", "metadata"):
            out.append(required(key))
    if not _has_rules(schema):
        return out
    if any(e.type == "TypeInvalid" for e in out):
        out.append(FieldError("Invalid", "<nil>", None, _NOT_CHECKED, True))
        return out
    for key, sub in (schema.get("properties") or {}).items():
        if key not in ("apiVersion", "kind", "metadata") and key in obj:
            _walk_rules(obj[key], sub, key, out)
    return out


def _has_rules(schema: Any) -> bool:
    if isinstance(schema, dict):
        return "x-kubernetes-validations" in schema or any(_has_rules(v) for v in schema.values())
    if isinstance(schema, list):
        return any(_has_rules(v) for v in schema)
    return False


_NOT_CHECKED = (
    "some validation rules were not checked because the object was invalid; correct the "
    "existing errors to complete validation"
)


def _walk_rules(value: Any, schema: Obj, path: str, out: list[FieldError]) -> None:
    """A node's rules, then its children's."""
    _rules(value, schema, path, out)
    if isinstance(value, dict):
        props = schema.get("properties") or {}
        extra = schema.get("additionalProperties")
        for key, item in value.items():
            if key in props:
                _walk_rules(item, props[key], f"{path}.{key}", out)
            elif isinstance(extra, dict):
                _walk_rules(item, extra, f"{path}[{key}]", out)
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for i, item in enumerate(value):
            _walk_rules(item, schema["items"], f"{path}[{i}]", out)


_NULL_TEST = re.compile(r"(self(?:\.[A-Za-z_][A-Za-z0-9_]*)+)\s*(!=|==)\s*null\b")


@functools.lru_cache(maxsize=512)
def _program(rule: str) -> Any:
    """The compiled rule. ``self.x != null`` of an optional field means "is set" in Kubernetes'
    CEL (unset fields read as null); it is evaluated as ``has(self.x)``."""
    text = _NULL_TEST.sub(
        lambda m: f"has({m.group(1)})" if m.group(2) == "!=" else f"!has({m.group(1)})", rule
    )
    import celpy

    env = celpy.Environment()
    return env.program(env.compile(text))


@functools.cache
def _cel_available() -> bool:
    try:
        import celpy  # noqa: F401
    except ModuleNotFoundError:
        print("lab kube: cel-python is not installed; CEL rules are not checked", file=sys.stderr)
        return False
    return True


def _with_nulls(value: Any, schema: Obj) -> Any:
    """Declared but unset properties read as null (``self.x != null``), recursively."""
    if isinstance(value, dict):
        props = schema.get("properties") or {}
        out = {k: _with_nulls(v, props.get(k) or {}) for k, v in value.items()}
        for k in props:
            out.setdefault(k, None)
        return out
    if isinstance(value, list) and isinstance(schema.get("items"), dict):
        return [_with_nulls(v, schema["items"]) for v in value]
    return value


def _rules(value: Any, schema: Obj, path: str, out: list[FieldError]) -> None:
    """``x-kubernetes-validations`` (CEL) of this schema node; transition rules (``oldSelf``)
    are not checked."""
    rules = schema.get("x-kubernetes-validations") or []
    if not rules or not _cel_available():
        return
    import celpy

    for rule in rules:
        text = str(rule.get("rule", ""))
        if "oldSelf" in text:
            continue
        program = _program(text)
        try:
            result = program.evaluate({"self": celpy.json_to_cel(value)})
            if isinstance(result, celpy.CELEvalError):
                raise result
        except celpy.CELEvalError:
            try:  # a declared field that is unset reads as null
                result = program.evaluate({"self": celpy.json_to_cel(_with_nulls(value, schema))})
            except celpy.CELEvalError as exc:
                out.append(FieldError("Invalid", path, _type_of(value), str(exc.args[0]), True))
                continue
        if result is not True and not (isinstance(result, celpy.celtypes.BoolType) and result):
            message = str(rule.get("message") or f"failed rule: {text}")
            kind = {
                "FieldValueRequired": "Required",
                "FieldValueForbidden": "Forbidden",
                "FieldValueDuplicate": "Duplicate",
            }.get(str(rule.get("reason")), "Invalid")
            if kind == "Invalid":
                out.append(FieldError("Invalid", path, _type_of(value), message, True))
            else:
                out.append(FieldError(kind, path, detail=message))


def _validate(value: Any, schema: Obj, path: str, out: list[FieldError]) -> None:
    if not _type_ok(value, schema):
        want = schema.get("type") or "object"
        out.append(
            FieldError(
                "TypeInvalid",
                path,
                _type_of(value),
                f'{path} in body must be of type {_GO_TYPES.get(want, want)}: "{_type_of(value)}"',
                has_value=True,
            )
        )
        return
    if value is None:
        return
    enum = schema.get("enum")
    if enum is not None and value not in enum:
        out.append(unsupported(path, value, list(enum)))
    if isinstance(value, str):
        pattern = schema.get("pattern")
        if pattern and not re.search(pattern, value):
            out.append(
                FieldError("Invalid", path, value, f"{path} in body should match '{pattern}'", True)
            )
        if "maxLength" in schema and len(value) > int(schema["maxLength"]):
            out.append(
                FieldError(
                    "TooLong", path, detail=f"may not be more than {schema['maxLength']} bytes"
                )
            )
        if "minLength" in schema and len(value) < int(schema["minLength"]):
            out.append(
                FieldError(
                    "Invalid",
                    path,
                    value,
                    f"{path} in body should be at least {schema['minLength']} chars long",
                    True,
                )
            )
    if isinstance(value, int | float) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            out.append(
                FieldError(
                    "Invalid",
                    path,
                    value,
                    f"{path} in body should be greater than or equal to {schema['minimum']}",
                    True,
                )
            )
        if "maximum" in schema and value > schema["maximum"]:
            out.append(
                FieldError(
                    "Invalid",
                    path,
                    value,
                    f"{path} in body should be less than or equal to {schema['maximum']}",
                    True,
                )
            )
    if isinstance(value, list):
        if "maxItems" in schema and len(value) > int(schema["maxItems"]):
            out.append(
                FieldError(
                    "TooMany",
                    path,
                    len(value),
                    f"must have at most {schema['maxItems']} items",
                    True,
                )
            )
        if "minItems" in schema and len(value) < int(schema["minItems"]):
            out.append(
                FieldError(
                    "Invalid",
                    path,
                    value,
                    f"{path} in body should have at least {schema['minItems']} items",
                    True,
                )
            )
        items = schema.get("items")
        if isinstance(items, dict):
            for i, item in enumerate(value):
                _validate(item, items, f"{path}[{i}]", out)
    if isinstance(value, dict):
        props = schema.get("properties") or {}
        for key, sub in props.items():
            if key in value:
                _validate(value[key], sub, f"{path}.{key}", out)
        extra = schema.get("additionalProperties")
        if isinstance(extra, dict):
            for key, item in value.items():
                if key not in props:
                    _validate(item, extra, f"{path}[{key}]", out)
        for key in schema.get("required") or []:
            if key not in value:
                out.append(required(f"{path}.{key}"))
