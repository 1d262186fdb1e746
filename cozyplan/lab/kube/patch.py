"""PATCH bodies: JSON merge patch (RFC 7386), JSON patch (RFC 6902) and strategic merge patch.

The strategic merge patch merges lists whose items carry a patch merge key (containers by name,
ports by containerPort, ...) item by item and understands the ``$patch`` (delete/replace/merge),
``$deleteFromPrimitiveList/``, ``$setElementOrder/`` and ``$retainKeys`` directives, like
k8s.io/apimachinery/pkg/util/strategicpatch.
"""

from __future__ import annotations

from typing import Any

import jsonpatch

from cozyplan.lab.kube import fieldpath as fp
from cozyplan.lab.kube.errors import bad_request
from cozyplan.lab.kube.jsoncopy import copy_json

MERGE_PATCH = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"
STRATEGIC = "application/strategic-merge-patch+json"
APPLY_YAML = "application/apply-patch+yaml"
APPLY_CBOR = "application/apply-patch+cbor"
PATCH_TYPES = [JSON_PATCH, MERGE_PATCH, STRATEGIC, APPLY_YAML]


def merge_patch(target: Any, patch: Any) -> Any:
    if not isinstance(patch, dict):
        return copy_json(patch)
    out = dict(target) if isinstance(target, dict) else {}
    for k, v in patch.items():
        if v is None:
            out.pop(k, None)
        else:
            out[k] = merge_patch(out.get(k), v)
    return out


def json_patch(target: Any, patch: Any) -> Any:
    if not isinstance(patch, list):
        raise bad_request("json: cannot unmarshal object into Go value of type jsonpatch.Patch")
    try:
        return jsonpatch.JsonPatch(patch).apply(target)
    except (jsonpatch.JsonPatchException, jsonpatch.JsonPointerException) as exc:
        raise bad_request(
            f"the server rejected our request due to an error in our request: {exc}"
        ) from None


def _merge_key(list_types: fp.ListTypes, names: tuple[str, ...]) -> str | None:
    kind, keys = list_types(names)
    if kind == "map" and keys:
        return keys[0]
    return None


def strategic_merge_patch(
    target: Any, patch: Any, list_types: fp.ListTypes, names: tuple[str, ...] = ()
) -> Any:
    if not isinstance(patch, dict):
        return copy_json(patch)
    if patch.get("$patch") == "replace":
        return {k: copy_json(v) for k, v in patch.items() if k != "$patch"}
    if patch.get("$patch") == "delete":
        return None
    out = dict(target) if isinstance(target, dict) else {}
    retain = patch.get("$retainKeys")
    for k, v in patch.items():
        if k.startswith("$setElementOrder/") or k in ("$retainKeys", "$patch"):
            continue
        if k.startswith("$deleteFromPrimitiveList/"):
            name = k.split("/", 1)[1]
            if isinstance(out.get(name), list):
                out[name] = [i for i in out[name] if i not in (v or [])]
            continue
        path = (*names, k)
        if v is None:
            out.pop(k, None)
        elif isinstance(v, list) and isinstance(out.get(k), list):
            out[k] = _merge_list(out[k], v, list_types, path)
        elif isinstance(v, dict):
            merged = strategic_merge_patch(out.get(k), v, list_types, path)
            if merged is None:
                out.pop(k, None)
            else:
                out[k] = merged
        else:
            out[k] = copy_json(v)
    if isinstance(retain, list):
        out = {k: v for k, v in out.items() if k in retain}
    return out


def _merge_list(
    live: list[Any], patch: list[Any], list_types: fp.ListTypes, path: tuple[str, ...]
) -> list[Any]:
    kind, _ = list_types(path)
    key = _merge_key(list_types, path)
    if key is None:
        if kind == "set":
            return list(live) + [v for v in patch if v not in live]
        if any(isinstance(i, dict) and i.get("$patch") == "replace" for i in patch):
            return [i for i in patch if not (isinstance(i, dict) and "$patch" in i)]
        return copy_json(patch)
    out = [copy_json(i) for i in live]
    for item in patch:
        if not isinstance(item, dict):
            continue
        if item.get("$patch") == "replace":
            return [i for i in patch if not (isinstance(i, dict) and "$patch" in i)]
        if key not in item:
            raise bad_request(f"map: {item} does not contain declared merge key: {key}")
        index = next(
            (n for n, i in enumerate(out) if isinstance(i, dict) and i.get(key) == item[key]),
            None,
        )
        if item.get("$patch") == "delete":
            if index is not None:
                del out[index]
            continue
        if index is None:
            out.append({k: v for k, v in item.items() if k != "$patch"})
        else:
            out[index] = strategic_merge_patch(out[index], item, list_types, path)
    return out
