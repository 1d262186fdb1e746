"""Strategic-merge config patches, with Talos's merge rules (pkg/machinery/config/merge).

* mappings merge key by key, recursively;
* lists append, except lists Talos tags ``merge:"replace"`` (subnets, SANs of a few fields),
  which the patch replaces;
* ``machine.network.interfaces`` merge by ``interface``/``deviceSelector``, ``vlans`` by
  ``vlanId``, kernel ``modules`` by ``name``;
* ``$patch: delete`` inside a mapping deletes that mapping (or the key holding it).
"""

from __future__ import annotations

import copy
from typing import Any

from cozyplan_talos import yamlio

#: list paths the patch replaces instead of appending to
REPLACE_LISTS = {
    ("cluster", "network", "podSubnets"),
    ("cluster", "network", "serviceSubnets"),
    ("machine", "kubelet", "nodeIP", "validSubnets"),
    ("cluster", "etcd", "advertisedSubnets"),
    ("cluster", "etcd", "listenSubnets"),
}

#: list paths whose items are matched by a key and merged
KEYED_LISTS: dict[tuple[str, ...], tuple[str, ...]] = {
    ("machine", "network", "interfaces"): ("interface", "deviceSelector"),
    ("machine", "network", "interfaces", "*", "vlans"): ("vlanId",),
    ("machine", "kernel", "modules"): ("name",),
}


def _keyed(path: tuple[str, ...]) -> tuple[str, ...] | None:
    for pattern, keys in KEYED_LISTS.items():
        if len(pattern) == len(path) and all(
            p in ("*", q) for p, q in zip(pattern, path, strict=True)
        ):
            return keys
    return None


def _is_delete(value: Any) -> bool:
    return isinstance(value, dict) and value.get("$patch") == "delete"


def merge(base: Any, patch: Any, path: tuple[str, ...] = ()) -> Any:
    """``patch`` merged onto ``base`` (neither is modified)."""
    if isinstance(base, dict) and isinstance(patch, dict):
        out = copy.deepcopy(base)
        for key, value in patch.items():
            if _is_delete(value):
                out.pop(key, None)
            elif key in out:
                out[key] = merge(out[key], value, (*path, str(key)))
            else:
                out[key] = copy.deepcopy(value)
        return out
    if isinstance(base, list) and isinstance(patch, list):
        if path in REPLACE_LISTS:
            return copy.deepcopy(patch)
        keys = _keyed(path)
        out_list = copy.deepcopy(base)
        for item in patch:
            match = None
            if keys and isinstance(item, dict):
                for i, existing in enumerate(out_list):
                    if isinstance(existing, dict) and any(
                        k in item and existing.get(k) == item.get(k) for k in keys
                    ):
                        match = i
                        break
            if match is None:
                if not _is_delete(item):
                    out_list.append(copy.deepcopy(item))
            elif _is_delete(item):
                del out_list[match]
            else:
                out_list[match] = merge(out_list[match], item, (*path, "*"))
        return out_list
    return copy.deepcopy(patch)


def parse_patch(patch: str | dict[str, Any]) -> dict[str, Any]:
    """A patch given as YAML text or as a mapping (a JSON6902 list is not supported)."""
    if isinstance(patch, dict):
        return patch
    try:
        docs = yamlio.load_all(patch)
    except yamlio.YAMLError as exc:
        raise ValueError(f"config patch is not valid YAML: {exc}") from None
    if len(docs) != 1 or not isinstance(docs[0], dict):
        raise ValueError(
            "config patch must be one YAML mapping (strategic merge); "
            "JSON patches (lists of operations) are not supported"
        )
    return docs[0]
