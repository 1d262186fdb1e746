"""The one generic REST store of a cluster: every kind's objects, one resourceVersion counter,
the event window that watches read from, and in-process listeners (the controllers).

Behaviour that differs per kind lives in strategies (``strategies.py``), never here. All calls
run on the lab's event loop; nothing awaits inside a write, so writes are atomic.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from cozyplan.lab.kube import managed, names
from cozyplan.lab.kube.errors import (
    FieldError,
    GroupResource,
    StatusError,
    already_exists,
    bad_request,
    expired,
    forbidden,
    forbidden_error,
    invalid,
    invalid_object,
    not_found,
    required,
    stale,
)
from cozyplan.lab.kube.jsoncopy import copy_json
from cozyplan.lab.kube.resources import ResourceType
from cozyplan.lab.kube.strategies import Strategy, strategy_for

Obj = dict[str, Any]
Listener = Callable[[str, ResourceType, Obj, Obj | None], None]
DEFAULT_WINDOW = 1000
SYSTEM_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")


def timestamp() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _type_of(key: str) -> str:
    group, plural = key.split("/")[:2]
    return f"{group}/{plural}"


def key_of(rt: ResourceType, namespace: str, name: str) -> str:
    return f"{rt.group}/{rt.plural}/{namespace if rt.namespaced else ''}/{name}"


@dataclass
class Event:
    rv: int
    type: str  # ADDED MODIFIED DELETED
    rt_key: str
    namespace: str
    obj: Obj


@dataclass
class Watcher:
    rt: ResourceType
    namespace: str | None
    initial: int = 0  # synthetic ADDED events for the objects that existed when it began
    queue: asyncio.Queue[Event | None] = field(default_factory=asyncio.Queue)


_OMIT_EMPTY = ("labels", "annotations", "finalizers", "ownerReferences", "managedFields")


def _omit_empty(meta: Obj) -> None:
    """Empty metadata lists and maps are absent, as Go's ``omitempty`` serialises them."""
    for key in _OMIT_EMPTY:
        if key in meta and meta[key] in (None, [], {}):
            del meta[key]


def _path_segment_name(name: str) -> list[str]:
    """RBAC objects only need names that are valid path segments."""
    if name in (".", "..") or "/" in name or "%" in name:
        return ["may not contain '/' or '%' and may not be '.' or '..'"]
    return []


def _spec_finalizers(rt: ResourceType, obj: Obj) -> bool:
    """A namespace also waits for ``spec.finalizers`` (the namespace controller's)."""
    return (
        rt.group == ""
        and rt.kind == "Namespace"
        and bool((obj.get("spec") or {}).get("finalizers"))
    )


class Store:
    def __init__(
        self,
        data: dict[str, Any],
        save: Callable[[], None],
        registry: Callable[[], dict[str, ResourceType]],
        window: int = DEFAULT_WINDOW,
    ) -> None:
        self.data = data
        self.objects: dict[str, Obj] = data.setdefault("objects", {})
        #: the same objects by ``group/plural``, so a list reads one kind only
        self._by_type: dict[str, dict[str, Obj]] = {}
        for key, obj in self.objects.items():
            self._by_type.setdefault(_type_of(key), {})[key] = obj
        data.setdefault("rv", 1)
        self._save = save
        self._registry = registry
        self.events: deque[Event] = deque(maxlen=max(1, window))
        #: events at or below this resourceVersion are no longer in the window
        self.compacted = int(data["rv"])
        self.watchers: list[Watcher] = []
        self.listeners: list[Listener] = []
        self._strategies: dict[str, Strategy] = {}
        #: ``group/plural`` -> how many writes it had (what a cache of its objects keys on)
        self._writes: dict[str, int] = {}

    # -- plumbing ------------------------------------------------------------------------------
    @property
    def rv(self) -> int:
        return int(self.data["rv"])

    def strategy(self, rt: ResourceType) -> Strategy:
        key = f"{rt.group}/{rt.version}/{rt.plural}"
        found = self._strategies.get(key)
        if found is None or found.rt is not rt:
            found = self._strategies[key] = strategy_for(rt)
        return found

    def writes(self, rt: ResourceType) -> int:
        """How many writes ``rt``'s objects had since the store was loaded: a value derived
        from them stays valid while this stays the same."""
        return self._writes.get(f"{rt.group}/{rt.plural}", 0)

    def rt_for_key(self, key: str) -> ResourceType | None:
        group, plural = key.split("/")[:2]
        for rt in self._registry().values():
            if rt.group == group and rt.plural == plural:
                return rt
        return None

    def _commit(self, kind: str, rt: ResourceType, key: str, obj: Obj, old: Obj | None) -> Obj:
        _omit_empty(obj["metadata"])
        self.data["rv"] = self.rv + 1
        obj["metadata"]["resourceVersion"] = str(self.rv)
        type_key = _type_of(key)
        self._writes[type_key] = self._writes.get(type_key, 0) + 1
        if kind == "DELETED":
            self.objects.pop(key, None)
            self._by_type.get(type_key, {}).pop(key, None)
        else:
            self.objects[key] = obj
            self._by_type.setdefault(type_key, {})[key] = obj
        if len(self.events) == self.events.maxlen:
            self.compacted = self.events[0].rv
        ns = obj["metadata"].get("namespace", "")
        event = Event(self.rv, kind, f"{rt.group}/{rt.plural}", ns, copy_json(obj))
        self.events.append(event)
        for w in self.watchers:
            if self._wants(w, event):
                w.queue.put_nowait(event)
        self._save()
        for listener in list(self.listeners):
            listener(kind, rt, obj, old)
        return copy_json(obj)

    @staticmethod
    def _wants(w: Watcher, e: Event) -> bool:
        return e.rt_key == f"{w.rt.group}/{w.rt.plural}" and w.namespace in (None, e.namespace)

    # -- reads ---------------------------------------------------------------------------------
    def find(self, rt: ResourceType, namespace: str, name: str) -> Obj | None:
        return self.objects.get(key_of(rt, namespace, name))

    def stored(self, rt: ResourceType, namespace: str, name: str) -> Obj:
        """The stored object itself, not a copy: to read (or serialise) at once, never change."""
        found = self.find(rt, namespace, name)
        if found is None:
            raise not_found(rt.gr, name)
        return found

    def get(self, rt: ResourceType, namespace: str, name: str) -> Obj:
        """A copy of the stored object, the caller's to change."""
        return copy_json(self.stored(rt, namespace, name))

    def items(self, rt: ResourceType, namespace: str | None = None) -> list[Obj]:
        prefix = f"{rt.group}/{rt.plural}/"
        if namespace is not None and rt.namespaced:
            prefix += namespace + "/"
        of_type = self._by_type.get(f"{rt.group}/{rt.plural}", {})
        return [o for k, o in sorted(of_type.items()) if k.startswith(prefix)]

    def watch(self, rt: ResourceType, namespace: str | None, since: int | None) -> Watcher:
        w = Watcher(rt, namespace)
        if since is None:
            for obj in self.items(rt, namespace):
                ns = obj["metadata"].get("namespace", "")
                w.queue.put_nowait(Event(self.rv, "ADDED", "", ns, copy_json(obj)))
                w.initial += 1
        else:
            if since < self.compacted:
                raise expired(f"too old resource version: {since} ({self.compacted})")
            for e in self.events:
                if e.rv > since and self._wants(w, e):
                    w.queue.put_nowait(e)
        self.watchers.append(w)
        return w

    def unwatch(self, w: Watcher) -> None:
        if w in self.watchers:
            self.watchers.remove(w)

    def close_watchers(self) -> None:
        for w in self.watchers:
            w.queue.put_nowait(None)
        self.watchers.clear()

    # -- writes --------------------------------------------------------------------------------
    def _check_namespace(self, rt: ResourceType, namespace: str, name: str) -> None:
        if not rt.namespaced:
            return
        ns_rt = self._registry()["/namespaces"]
        ns = self.find(ns_rt, "", namespace)
        if ns is None:
            raise not_found(GroupResource("", "namespaces"), namespace)
        if ns["metadata"].get("deletionTimestamp"):
            err = forbidden_error(
                rt.gr,
                name,
                f"unable to create new content in namespace {namespace} because it is being "
                "terminated",
            )
            assert err.details is not None
            err.details["causes"] = [
                {
                    "reason": "NamespaceTerminating",
                    "message": f"namespace {namespace} is being terminated",
                    "field": "metadata.namespace",
                }
            ]
            raise err

    def _validate_meta(self, rt: ResourceType, obj: Obj, strategy: Strategy) -> None:
        meta = obj["metadata"]
        name = meta.get("name", "")
        errors: list[FieldError] = []
        if not name:
            errors.append(required("metadata.name", "name or generateName is required"))
        else:
            check: Callable[[str], list[str]] = (
                names.dns1123_label if strategy.namespace_name else names.dns1123_subdomain
            )
            if rt.group == "rbac.authorization.k8s.io":
                check = _path_segment_name
            errors += [invalid("metadata.name", name, m) for m in check(name)]
        for k, v in (meta.get("labels") or {}).items():
            errors += [invalid("metadata.labels", k, m) for m in names.qualified_name(k)]
            errors += [invalid("metadata.labels", v, m) for m in names.label_value(str(v))]
        errors += strategy.validate(obj, None)
        if errors:
            raise invalid_object(rt.group, rt.kind, name, errors)

    def create(
        self,
        rt: ResourceType,
        namespace: str,
        obj: Obj,
        manager: str,
        *,
        dry_run: bool = False,
        apply_fields: bool = False,
    ) -> Obj:
        strategy = self.strategy(rt)
        obj = copy_json(obj)
        meta = obj.setdefault("metadata", {})
        if not meta.get("name") and meta.get("generateName"):
            meta["name"] = meta["generateName"] + uuid.uuid4().hex[:5]
        name = meta.get("name", "")
        obj["apiVersion"], obj["kind"] = rt.api_version, rt.kind
        if rt.namespaced:
            if meta.get("namespace") not in (None, "", namespace):
                raise bad_request(
                    "the namespace of the provided object does not match the namespace sent on "
                    "the request"
                )
            meta["namespace"] = namespace
        else:
            meta.pop("namespace", None)
        if meta.get("resourceVersion") and not apply_fields:
            raise bad_request("resourceVersion should not be set on objects to be created")
        for f in ("resourceVersion", "deletionTimestamp", "deletionGracePeriodSeconds"):
            meta.pop(f, None)
        meta["uid"] = str(uuid.uuid4())
        meta["creationTimestamp"] = timestamp()
        if strategy.generation or rt.custom:
            meta["generation"] = 1
        else:
            meta.pop("generation", None)
        strategy.prepare_create(obj)
        strategy.defaults(obj)
        self._validate_meta(rt, obj, strategy)
        self._check_namespace(rt, namespace, name)
        key = key_of(rt, namespace, name)
        if key in self.objects:
            raise already_exists(rt.gr, name)
        if not apply_fields:
            managed.update(None, obj, manager, list_types=strategy.list_types)
        if dry_run:
            return obj
        return self._commit("ADDED", rt, key, obj, None)

    def update(
        self,
        rt: ResourceType,
        namespace: str,
        name: str,
        obj: Obj,
        manager: str,
        *,
        subresource: str = "",
        dry_run: bool = False,
        apply_fields: bool = False,
        check_rv: bool = True,
    ) -> Obj:
        strategy = self.strategy(rt)
        key = key_of(rt, namespace, name)
        old = self.objects.get(key)
        if old is None:
            raise not_found(rt.gr, name)
        new = copy_json(obj)
        meta = new.setdefault("metadata", {})
        if meta.get("name", name) != name:
            raise bad_request(
                f"the name of the object ({meta.get('name')}) does not match the name on the "
                f"URL ({name})"
            )
        rv = meta.get("resourceVersion")
        if check_rv and rv and rv != old["metadata"]["resourceVersion"]:
            raise stale(rt.gr, name)
        new["apiVersion"], new["kind"] = rt.api_version, rt.kind
        for f in (
            "name",
            "namespace",
            "uid",
            "creationTimestamp",
            "generation",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
        ):
            if f in old["metadata"]:
                meta[f] = old["metadata"][f]
            else:
                meta.pop(f, None)
        strategy.prepare_update(old, new, subresource)
        strategy.defaults(new)
        errors = strategy.validate(new, old)
        if old["metadata"].get("deletionTimestamp"):
            added = set(meta.get("finalizers") or []) - set(old["metadata"].get("finalizers") or [])
            if added:
                errors.append(
                    forbidden(
                        "metadata.finalizers",
                        "no new finalizers can be added if the object is being deleted, found "
                        f"new finalizers {sorted(added)!r}".replace("'", '"'),
                    )
                )
        if errors:
            raise invalid_object(rt.group, rt.kind, name, errors)
        if "generation" in meta and strategy.spec_changed(old, new):
            meta["generation"] = int(meta["generation"]) + 1
        if not apply_fields:
            managed.update(
                old, new, manager, list_types=strategy.list_types, subresource=subresource
            )
        meta.pop("resourceVersion", None)
        _omit_empty(meta)
        old_meta = {k: v for k, v in old["metadata"].items() if k != "resourceVersion"}
        old_cmp = {**old, "metadata": old_meta}  # compared only: no copy of the rest
        if dry_run:
            new["metadata"]["resourceVersion"] = old["metadata"]["resourceVersion"]
            return new
        if old_cmp == new:  # a no-op write keeps the resourceVersion, as etcd3's GuaranteedUpdate
            return copy_json(old)
        if (
            meta.get("deletionTimestamp")
            and not meta.get("finalizers")
            and not _spec_finalizers(rt, new)
        ):
            return self._commit("DELETED", rt, key, new, old)
        return self._commit("MODIFIED", rt, key, new, old)

    def delete(
        self,
        rt: ResourceType,
        namespace: str,
        name: str,
        *,
        propagation: str | None = None,
        precondition_uid: str | None = None,
        precondition_rv: str | None = None,
        dry_run: bool = False,
    ) -> tuple[Obj, bool]:
        """Delete or mark for deletion; returns (object, deleted now)."""
        key = key_of(rt, namespace, name)
        old = self.objects.get(key)
        if old is None:
            raise not_found(rt.gr, name)
        meta = old["metadata"]
        if precondition_uid and precondition_uid != meta.get("uid"):
            raise StatusError(
                409,
                "Conflict",
                f'Operation cannot be fulfilled on {rt.gr} "{name}": Precondition failed: '
                f"UID in precondition: {precondition_uid}, UID in object meta: {meta.get('uid')}",
            )
        if precondition_rv and precondition_rv != meta.get("resourceVersion"):
            raise stale(rt.gr, name)
        new = copy_json(old)
        nmeta = new["metadata"]
        finalizers = list(nmeta.get("finalizers") or [])
        if propagation == "Foreground" and "foregroundDeletion" not in finalizers:
            finalizers.append("foregroundDeletion")
        if propagation == "Orphan" and "orphan" not in finalizers:
            finalizers.append("orphan")
        pending = bool(finalizers) or _spec_finalizers(rt, new)
        if dry_run:
            return new, not pending
        if not pending:
            return self._commit("DELETED", rt, key, new, old), True
        if nmeta.get("deletionTimestamp") and nmeta.get("finalizers") == finalizers:
            return copy_json(old), False  # already being deleted
        nmeta.setdefault("deletionTimestamp", timestamp())
        nmeta.setdefault("deletionGracePeriodSeconds", 0)
        nmeta["finalizers"] = finalizers
        if rt.kind == "Namespace":
            new.setdefault("status", {})["phase"] = "Terminating"
        return self._commit("MODIFIED", rt, key, new, old), False

    def finalize_namespace(self, name: str, remaining: list[str]) -> None:
        rt = self._registry()["/namespaces"]
        key = key_of(rt, "", name)
        old = self.objects.get(key)
        if old is None:
            return
        new = copy_json(old)
        new.setdefault("spec", {})["finalizers"] = remaining
        if not remaining and not new["metadata"].get("finalizers"):
            self._commit("DELETED", rt, key, new, old)
        else:
            self._commit("MODIFIED", rt, key, new, old)
