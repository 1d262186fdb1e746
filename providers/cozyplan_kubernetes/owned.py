"""Drift on the fields cozyplan sets, and only those.

``project(desired, live)`` returns the live object cut down to the shape of the desired manifest:
every field the manifest sets, with the live value at that path (missing when the live object
lacks it). Comparing that with the manifest shows exactly the fields someone else changed;
defaulted fields (``spec.progressDeadlineSeconds``), controller-written ones (``status``) and
fields other managers added (an extra label, an injected container) never appear.

Lists follow Kubernetes' list semantics: a list of maps with a merge key (``name``,
``containerPort``, ...) is associative, its items are matched by key and items of other
managers are ignored; any other list is atomic and compared whole (after projecting its items).
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

#: keys that make a list of maps associative (the common ``x-kubernetes-list-map-keys`` /
#: ``patchMergeKey`` of the built-in kinds)
MERGE_KEYS = ("name", "containerPort", "port", "mountPath", "devicePath", "ip", "type", "key")

#: fields the server writes on every object: never part of what cozyplan manages
SERVER_METADATA = (
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "managedFields",
    "selfLink",
)


def merge_key(items: list[Any]) -> str | None:
    if not items or not all(isinstance(i, dict) for i in items):
        return None
    for key in MERGE_KEYS:
        values = [i.get(key) for i in items]
        if all(v is not None for v in values) and len(set(map(str, values))) == len(values):
            return key
    return None


def _same_scalar(desired: Any, live: Any) -> bool:
    """The server normalises some scalars (an int-or-string ``port: "80"`` read back as 80)."""
    if isinstance(desired, bool) or isinstance(live, bool):
        return desired is live
    return isinstance(desired, int | float | str) and str(desired) == str(live)


def project(desired: Any, live: Any) -> Any:
    """``live`` restricted to the paths ``desired`` sets (see the module docstring)."""
    if isinstance(desired, dict):
        if not isinstance(live, dict):
            return live
        return {k: project(v, live[k]) for k, v in desired.items() if k in live}
    if isinstance(desired, list):
        if not isinstance(live, list):
            return live
        key = merge_key(desired)
        if key is not None and all(isinstance(i, dict) for i in live):
            by_key = {str(i.get(key)): i for i in live}
            return [project(d, by_key[str(d[key])]) for d in desired if str(d[key]) in by_key]
        out = []
        for i, item in enumerate(live):
            out.append(project(desired[i], item) if i < len(desired) else item)
        return out
    if desired is not None and live is not None and _same_scalar(desired, live):
        return desired
    return live


def project_object(desired: dict[str, Any], live: dict[str, Any]) -> dict[str, Any]:
    """``project`` for a whole object, reading a Secret's ``stringData`` back from ``data``."""
    if live.get("kind") == "Secret" and isinstance(desired.get("stringData"), dict):
        live = dict(live)
        decoded: dict[str, Any] = {}
        for name, value in (live.get("data") or {}).items():
            try:
                decoded[name] = base64.b64decode(str(value), validate=True).decode()
            except (binascii.Error, UnicodeDecodeError):
                decoded[name] = value
        live["stringData"] = decoded
    return project(desired, live)  # type: ignore[no-any-return]


def strip_server_fields(obj: dict[str, Any]) -> dict[str, Any]:
    """An object as a manifest: no status, no server-written metadata (for import)."""
    out = {k: v for k, v in obj.items() if k != "status"}
    meta = {k: v for k, v in (obj.get("metadata") or {}).items() if k not in SERVER_METADATA}
    annotations = {
        k: v
        for k, v in (meta.get("annotations") or {}).items()
        if k != "kubectl.kubernetes.io/last-applied-configuration"
    }
    if annotations:
        meta["annotations"] = annotations
    else:
        meta.pop("annotations", None)
    out["metadata"] = meta
    return out
