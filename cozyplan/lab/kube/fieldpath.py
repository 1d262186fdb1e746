"""Field paths and field sets as structured-merge-diff models them, over plain JSON objects.

A path is a tuple of path elements in their ``fieldsV1`` spelling: ``f:spec`` (a struct/map
field), ``k:{"name":"nginx"}`` (an item of an associative list, by its keys), ``v:"a"`` (an item
of a set), ``i:3`` (an item of an atomic list's ancestor, seldom needed). A field set is a
Python set of paths; ``to_fields_v1``/``from_fields_v1`` convert to and from managedFields'
``fieldsV1`` trees (``"."`` marks a member that also has members below it).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

from cozyplan.lab.kube.jsoncopy import copy_json

Path = tuple[str, ...]
#: ("atomic", ()) | ("map", keys) | ("set", ())
ListType = tuple[str, tuple[str, ...]]
#: the list type of the list at a field-name path (list items are not part of it)
ListTypes = Callable[[tuple[str, ...]], ListType]

ATOMIC: ListType = ("atomic", ())
_ITEM_MARK = "."

# -- built-in kinds: the list types of k8s.io/api's struct tags -----------------------------------
_BY_NAME: dict[str, ListType] = {
    "containers": ("map", ("name",)),
    "initContainers": ("map", ("name",)),
    "ephemeralContainers": ("map", ("name",)),
    "env": ("map", ("name",)),
    "volumes": ("map", ("name",)),
    "volumeMounts": ("map", ("mountPath",)),
    "volumeDevices": ("map", ("devicePath",)),
    "imagePullSecrets": ("map", ("name",)),
    "hostAliases": ("map", ("ip",)),
    "conditions": ("map", ("type",)),
    "ownerReferences": ("map", ("uid",)),
    "topologySpreadConstraints": ("map", ("topologyKey", "whenUnsatisfiable")),
    "resourceClaims": ("map", ("name",)),
}


def builtin_list_type(path: tuple[str, ...]) -> ListType:
    if not path:
        return ATOMIC
    last = path[-1]
    if path == ("metadata", "finalizers"):
        return ("set", ())
    if last == "ports":
        if "containers" in path or "initContainers" in path:
            return ("map", ("containerPort", "protocol"))
        if path == ("spec", "ports"):
            return ("map", ("port", "protocol"))
        return ATOMIC
    return _BY_NAME.get(last, ATOMIC)


# -- elements -------------------------------------------------------------------------------------
def _dump(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


#: key fields with a schema default: an item that omits them is keyed by the default (as
#: structured-merge-diff does), so ``{containerPort: 80}`` and its defaulted form are one item
KEY_DEFAULTS: dict[str, Any] = {"protocol": "TCP"}


def key_element(item: dict[str, Any], keys: tuple[str, ...]) -> str:
    fields = {k: item[k] if k in item else KEY_DEFAULTS.get(k) for k in sorted(keys)}
    return "k:" + _dump({k: v for k, v in fields.items() if v is not None})


def value_element(value: Any) -> str:
    return "v:" + _dump(value)


def path_string(path: Path) -> str:
    """``.spec.template.spec.containers[name="nginx"].image``, as fieldpath.Path.String()."""
    out = []
    for el in path:
        kind, rest = el[:1], el[2:]
        if kind == "f":
            out.append("." + rest)
        elif kind == "k":
            fields = json.loads(rest)
            out.append("[" + ",".join(f"{k}={_dump(v)}" for k, v in fields.items()) + "]")
        elif kind == "v":
            out.append("[=" + rest + "]")
        else:
            out.append("[" + rest + "]")
    return "".join(out)


# -- field sets of objects ------------------------------------------------------------------------
def leaves(obj: Any, list_types: ListTypes) -> dict[Path, Any]:
    """Every member path of ``obj`` with the value to compare it by."""
    out: dict[Path, Any] = {}
    _walk(obj, (), (), list_types, out)
    return out


def _walk(
    value: Any, path: Path, names: tuple[str, ...], lt: ListTypes, out: dict[Path, Any]
) -> None:
    if isinstance(value, dict):
        if not value and path:
            out[path] = {}
        for k, v in value.items():
            _walk(v, (*path, "f:" + k), (*names, k), lt, out)
        return
    if isinstance(value, list):
        kind, keys = lt(names)
        if kind == "map" and all(isinstance(i, dict) for i in value):
            for item in value:
                el = (*path, key_element(item, keys))
                out[el] = _ITEM_MARK
                for k, v in item.items():
                    _walk(v, (*el, "f:" + k), (*names, k), lt, out)
            return
        if kind == "set":
            for item in value:
                out[(*path, value_element(item))] = True
            return
        out[path] = _dump(value)
        return
    if path:
        out[path] = value


def field_set(obj: Any, list_types: ListTypes) -> set[Path]:
    return set(leaves(obj, list_types))


def to_fields_v1(paths: set[Path]) -> dict[str, Any]:
    tree: dict[str, Any] = {}
    for path in sorted(paths):
        node = tree
        for el in path:
            node = node.setdefault(el, {})
    for path in paths:  # a member with members below it keeps a "." mark
        node = tree
        for el in path:
            node = node[el]
        if node and _ITEM_MARK not in node:
            node[_ITEM_MARK] = {}
    return tree


def from_fields_v1(tree: dict[str, Any]) -> set[Path]:
    out: set[Path] = set()

    def visit(node: dict[str, Any], path: Path) -> None:
        children = {k: v for k, v in node.items() if k != _ITEM_MARK}
        if path and (not children or _ITEM_MARK in node):
            out.add(path)
        for k, v in children.items():
            visit(v if isinstance(v, dict) else {}, (*path, k))

    visit(tree, ())
    return out


def under(paths: set[Path], prefix: Path) -> set[Path]:
    return {p for p in paths if p[: len(prefix)] == prefix}


# -- merging and removing -------------------------------------------------------------------------
def merge(live: Any, config: Any, list_types: ListTypes, names: tuple[str, ...] = ()) -> Any:
    """``config`` applied over ``live`` (structured-merge-diff's merge of two typed values)."""
    if isinstance(live, dict) and isinstance(config, dict):
        out = dict(live)
        for k, v in config.items():
            out[k] = merge(live[k], v, list_types, (*names, k)) if k in live else copy_json(v)
        return out
    if isinstance(live, list) and isinstance(config, list):
        kind, keys = list_types(names)
        if kind == "map" and all(isinstance(i, dict) for i in (*live, *config)):
            by_key = {key_element(i, keys): i for i in config}
            merged = []
            seen = set()
            for item in live:
                k = key_element(item, keys)
                if k in by_key:
                    merged.append(merge(item, by_key[k], list_types, names))
                    seen.add(k)
                else:
                    merged.append(item)
            merged += [copy_json(i) for i in config if key_element(i, keys) not in seen]
            return merged
        if kind == "set":
            return list(live) + [v for v in config if v not in live]
    return copy_json(config)


def _children(value: Any, el: str) -> Iterator[tuple[Any, Any]]:
    """(container, key) pairs ``el`` designates inside ``value``."""
    kind, rest = el[:1], el[2:]
    if kind == "f" and isinstance(value, dict) and rest in value:
        yield value, rest
    elif kind == "k" and isinstance(value, list):
        want = json.loads(rest)
        for i, item in enumerate(value):
            if isinstance(item, dict) and all(item.get(k) == v for k, v in want.items()):
                yield value, i
    elif kind == "v" and isinstance(value, list):
        want = json.loads(rest)
        for i, item in enumerate(value):
            if item == want:
                yield value, i
    elif kind == "i" and isinstance(value, list) and int(rest) < len(value):
        yield value, int(rest)


def get(obj: Any, path: Path) -> tuple[bool, Any]:
    node = obj
    for el in path:
        found = next(_children(node, el), None)
        if found is None:
            return False, None
        node = found[0][found[1]]
    return True, node


def remove(obj: Any, path: Path) -> None:
    """Remove the member at ``path`` and the maps/lists its removal leaves empty."""
    if not path:
        return
    parents: list[tuple[Any, Any]] = []
    node = obj
    for el in path:
        found = next(_children(node, el), None)
        if found is None:
            return
        parents.append(found)
        node = found[0][found[1]]
    for depth in range(len(parents) - 1, -1, -1):
        container, key = parents[depth]
        if depth == len(parents) - 1 or container[key] in ({}, []):
            del container[key]
        else:
            break
