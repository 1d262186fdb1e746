"""The controller loop: a work queue of object keys filled by store events, one worker."""

from __future__ import annotations

import asyncio
import contextlib
import sys
import uuid
from typing import TYPE_CHECKING, Any, ClassVar

from cozyplan.lab.kube.errors import StatusError
from cozyplan.lab.kube.jsoncopy import copy_json
from cozyplan.lab.kube.resources import ResourceType
from cozyplan.lab.kube.store import timestamp

if TYPE_CHECKING:
    from cozyplan.lab.kube.cluster import KubeCluster

Obj = dict[str, Any]
MANAGER = "kube-controller-manager"


class Controller:
    #: (group, kind) pairs whose events queue work; empty = every kind
    watches: ClassVar[tuple[tuple[str, str], ...]] = ()
    #: the component its Events name as their source
    component: ClassVar[str] = "kube-controller-manager"

    def __init__(self, cluster: KubeCluster) -> None:
        self.cluster = cluster
        self.store = cluster.store
        self.queue: asyncio.Queue[tuple[ResourceType, str, str]] = asyncio.Queue()
        self._pending: set[tuple[str, str, str, str]] = set()
        self._task: asyncio.Task[None] | None = None
        self._timers: set[asyncio.Task[None]] = set()

    # -- wiring --------------------------------------------------------------------------------
    def start(self) -> None:
        self.store.listeners.append(self._on_event)
        self._task = asyncio.get_running_loop().create_task(self._run())
        for rt in self.cluster.registry().values():
            if self._wanted(rt):
                for obj in self.store.items(rt):
                    self.enqueue(rt, obj)

    async def stop(self) -> None:
        if self._on_event in self.store.listeners:
            self.store.listeners.remove(self._on_event)
        for task in [self._task, *self._timers]:
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task

    def _wanted(self, rt: ResourceType) -> bool:
        return not self.watches or (rt.group, rt.kind) in self.watches

    def _on_event(self, kind: str, rt: ResourceType, obj: Obj, old: Obj | None) -> None:
        if self._wanted(rt):
            self.observe(kind, rt, obj, old)

    def observe(self, kind: str, rt: ResourceType, obj: Obj, old: Obj | None) -> None:
        """Called synchronously for each store event of a watched kind."""
        self.enqueue(rt, obj)

    def enqueue(self, rt: ResourceType, obj: Obj) -> None:
        meta = obj["metadata"]
        ident = (rt.group, rt.plural, meta.get("namespace", ""), meta["name"])
        if ident not in self._pending:
            self._pending.add(ident)
            self.queue.put_nowait((rt, meta.get("namespace", ""), meta["name"]))

    def later(self, seconds: float, rt: ResourceType, namespace: str, name: str) -> None:
        """Look at an object again after ``seconds`` of simulated time."""

        async def wake() -> None:
            await self.cluster.world.sleep(seconds)
            obj = self.store.find(rt, namespace, name)
            if obj is not None:
                self.enqueue(rt, obj)

        task = asyncio.get_running_loop().create_task(wake())
        self._timers.add(task)
        task.add_done_callback(self._timers.discard)

    async def _run(self) -> None:
        while True:
            rt, namespace, name = await self.queue.get()
            self._pending.discard((rt.group, rt.plural, namespace, name))
            obj = self.store.find(rt, namespace, name)
            try:
                await self.sync(rt, obj, namespace, name)
            except StatusError as exc:
                if exc.code == 409:  # lost a race with another writer: look again
                    self.later(0.1, rt, namespace, name)
            except Exception as exc:  # a lab bug must show, and not stop the loop
                print(f"lab kube {type(self).__name__}: {exc!r}", file=sys.stderr)

    async def sync(self, rt: ResourceType, obj: Obj | None, namespace: str, name: str) -> None:
        raise NotImplementedError

    # -- helpers -------------------------------------------------------------------------------
    def rt(self, group: str, kind: str) -> ResourceType:
        for rt in self.cluster.registry().values():
            if rt.group == group and rt.kind == kind:
                return rt
        raise KeyError(f"{group}/{kind}")

    def event(
        self,
        rt: ResourceType,
        obj: Obj,
        reason: str,
        message: str,
        *,
        warning: bool = False,
        component: str = "",
    ) -> None:
        """Record an Event about ``obj``, as ``kubectl describe`` lists them (repeats counted)."""
        meta = obj["metadata"]
        namespace = meta.get("namespace") or "default"
        source = component or self.component
        now = timestamp()
        events_rt = self.rt("", "Event")
        key = (namespace, str(meta.get("uid")), reason, message)
        known = self.cluster.event_names.get(key)
        existing = self.store.find(events_rt, namespace, known) if known else None
        if existing is not None:
            new = copy_json(existing)
            new["count"] = int(existing.get("count", 1)) + 1
            new["lastTimestamp"] = now
            with contextlib.suppress(StatusError):
                self.store.update(events_rt, namespace, existing["metadata"]["name"], new, source)
            return
        event_name = f"{meta['name']}.{uuid.uuid4().hex[:16]}"
        body: Obj = {
            "metadata": {"name": event_name},
            "involvedObject": {
                "kind": rt.kind,
                "namespace": meta.get("namespace", ""),
                "name": meta["name"],
                "uid": meta.get("uid"),
                "apiVersion": rt.api_version,
                "resourceVersion": meta.get("resourceVersion"),
            },
            "reason": reason,
            "message": message,
            "source": {"component": source},
            "firstTimestamp": now,
            "lastTimestamp": now,
            "count": 1,
            "type": "Warning" if warning else "Normal",
            "eventTime": None,
            "reportingComponent": source,
            "reportingInstance": "",
        }
        with contextlib.suppress(StatusError):
            self.store.create(events_rt, namespace, body, source)
            self.cluster.event_names[key] = event_name

    def write_status(self, rt: ResourceType, obj: Obj, status: Obj) -> None:
        if obj.get("status") == status:
            return
        new = {**obj, "status": status}
        meta = obj["metadata"]
        sub = "status" if "status" in rt.subresources else ""
        self.store.update(
            rt, meta.get("namespace", ""), meta["name"], new, MANAGER, subresource=sub
        )
