"""The async operations the resources use: get, server-side apply, delete, list, wait (watch).

Every blocking call of the client runs in a worker thread (``asyncio.to_thread``). Waits use
watches resumed from the last ``resourceVersion`` seen (bookmarks included), list again when the
server answers ``410 Gone``, and are bounded by a deadline.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cozyplan.errors import ProviderError
from cozyplan.provider import PermanentError, TemporaryError
from cozyplan_kubernetes.client import APPLY_PATCH, KubeClient, Response
from cozyplan_kubernetes.discovery import Discovery, Kind, describe, doc_get
from cozyplan_kubernetes.errors import Request

#: ``None``: done; otherwise what is still missing (shown in progress lines and errors)
Pending = Callable[[dict[str, Any] | None], str | None]


@dataclass
class Event:
    kind: str  # ADDED MODIFIED DELETED | RELIST | TIMEOUT
    obj: dict[str, Any] | None
    resource_version: str


class Api:
    def __init__(
        self, client: KubeClient, *, field_manager: str, poll: Callable[[float], float]
    ) -> None:
        self.client = client
        self.field_manager = field_manager
        self.discovery = Discovery(self._discovery_fetch)
        self._scaled = poll
        self._discovery_lock = asyncio.Lock()

    def _discovery_fetch(self, path: str, req: Request) -> Response:
        return self.client.request("GET", path, req, allow=(404,))

    # -- discovery ------------------------------------------------------------------------
    async def kind(self, api_version: str, kind: str) -> Kind:
        async with self._discovery_lock:
            return await asyncio.to_thread(self.discovery.get, api_version, kind)

    async def kind_when_served(self, api_version: str, kind: str, timeout: float) -> Kind:
        """The kind, waiting (bounded) for a CRD applied in this run to be served."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                return await self.kind(api_version, kind)
            except PermanentError:
                if time.monotonic() >= deadline:
                    raise
            await asyncio.sleep(self._scaled(2.0))
            self.discovery.invalidate()

    # -- single objects -----------------------------------------------------------------------
    async def get(self, kind: Kind, name: str, namespace: str | None) -> dict[str, Any] | None:
        req = Request("get", describe(kind.kind, name, namespace, kind.group_version))
        resp = await asyncio.to_thread(
            self.client.request, "GET", kind.path(name, namespace), req, allow=(404,)
        )
        return None if resp.status == 404 else resp.body

    async def apply(self, kind: Kind, obj: dict[str, Any], *, force: bool) -> dict[str, Any]:
        """Server-side apply of ``obj`` as our field manager."""
        meta = obj.get("metadata") or {}
        name, namespace = str(meta["name"]), meta.get("namespace")
        req = Request("patch", describe(kind.kind, name, namespace, kind.group_version))
        resp = await asyncio.to_thread(
            self.client.request,
            "PATCH",
            kind.path(name, namespace),
            req,
            query={"fieldManager": self.field_manager, "force": "true" if force else "false"},
            body=obj,
            content_type=APPLY_PATCH,
        )
        return resp.body

    async def delete(
        self, kind: Kind, name: str, namespace: str | None, propagation: str
    ) -> dict[str, Any] | None:
        """Ask for deletion; None when it is already gone."""
        req = Request("delete", describe(kind.kind, name, namespace, kind.group_version))
        resp = await asyncio.to_thread(
            self.client.request,
            "DELETE",
            kind.path(name, namespace),
            req,
            body={"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": propagation},
            allow=(404,),
        )
        return None if resp.status == 404 else resp.body

    async def create(self, kind: Kind, obj: dict[str, Any]) -> dict[str, Any]:
        meta = obj.get("metadata") or {}
        namespace = meta.get("namespace")
        name = meta.get("name") or meta.get("generateName", "") + "*"
        req = Request("create", describe(kind.kind, name, namespace, kind.group_version))
        resp = await asyncio.to_thread(
            self.client.request, "POST", kind.base_path(namespace), req, body=obj
        )
        return resp.body

    async def list(
        self,
        kind: Kind,
        namespace: str | None = None,
        *,
        label_selector: str | None = None,
        field_selector: str | None = None,
        missing_ok: bool = False,
    ) -> tuple[list[dict[str, Any]], str]:
        """The items and the list's resourceVersion (to watch from). ``missing_ok``: a kind
        that is no longer served (its CRD was just deleted) has no items."""
        where = f"in namespace {namespace}" if namespace else "in all namespaces"
        req = Request("list", f"{kind.group_version} {kind.plural} {where}")
        resp = await asyncio.to_thread(
            self.client.request,
            "GET",
            kind.base_path(namespace),
            req,
            query={"labelSelector": label_selector, "fieldSelector": field_selector},
            allow=(404,) if missing_ok else (),
        )
        if resp.status == 404:
            return [], ""
        items = [i for i in resp.body.get("items") or [] if isinstance(i, dict)]
        for item in items:  # list items carry no kind/apiVersion
            item.setdefault("kind", kind.kind)
            item.setdefault("apiVersion", kind.group_version)
        return items, str(doc_get(resp.body, "metadata", "resourceVersion") or "")

    # -- waiting ------------------------------------------------------------------------------
    def _next_event(
        self, kind: Kind, name: str, namespace: str | None, rv: str, timeout: float
    ) -> Event:
        req = Request("watch", describe(kind.kind, name, namespace, kind.group_version))
        query = {
            "fieldSelector": f"metadata.name={name}",
            "resourceVersion": rv,
            "allowWatchBookmarks": "true",
        }
        stream = self.client.watch(kind.base_path(namespace), req, query, timeout=timeout)
        with contextlib.closing(stream):
            for event in stream:
                etype = str(event.get("type", ""))
                obj = event.get("object") if isinstance(event.get("object"), dict) else None
                if etype == "ERROR":
                    return Event("RELIST", None, rv)  # 410 Gone (or another error): list again
                new_rv = str(doc_get(obj, "metadata", "resourceVersion") or rv)
                if etype == "BOOKMARK":
                    rv = new_rv
                    continue
                if obj is not None:
                    obj.setdefault("kind", kind.kind)
                    obj.setdefault("apiVersion", kind.group_version)
                return Event(etype, None if etype == "DELETED" else obj, new_rv)
        return Event("TIMEOUT", None, rv)

    async def _current(
        self, kind: Kind, name: str, namespace: str | None
    ) -> tuple[dict[str, Any] | None, str]:
        items, rv = await self.list(
            kind, namespace, field_selector=f"metadata.name={name}", missing_ok=True
        )
        return (items[0] if items else None), rv

    async def latest_event(self, kind: Kind, name: str, namespace: str | None) -> str | None:
        """The newest Event about the object (``FailedScheduling: 0/3 nodes are available``)."""
        try:
            events_kind = await self.kind("v1", "Event")
            events, _ = await self.list(
                events_kind,
                namespace,
                field_selector=f"involvedObject.name={name},involvedObject.kind={kind.kind}",
            )
        except ProviderError:
            return None  # a hint only: never fail a wait for it

        def when(event: dict[str, Any]) -> str:
            return str(
                event.get("lastTimestamp")
                or event.get("eventTime")
                or doc_get(event, "metadata", "creationTimestamp")
                or ""
            )

        if not events:
            return None
        newest = max(events, key=when)
        return f"{newest.get('reason', '')}: {newest.get('message', '')}".strip(": ")

    async def wait(
        self,
        kind: Kind,
        name: str,
        namespace: str | None,
        pending: Pending,
        *,
        timeout: float,
        what: str,
        progress: Callable[[str], None],
    ) -> dict[str, Any] | None:
        """Watch the object until ``pending`` says done; PermanentError at the deadline."""
        deadline = time.monotonic() + timeout
        obj, rv = await self._current(kind, name, namespace)
        shown: str | None = None
        while True:
            reason = pending(obj)
            if reason is None:
                return obj
            if reason != shown:
                progress(f"{describe(kind.kind, name, namespace)}: {reason}")
                shown = reason
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                latest = await self.latest_event(kind, name, namespace) if obj else None
                raise PermanentError(
                    f"{describe(kind.kind, name, namespace, kind.group_version)} {what} "
                    f"after {timeout:g}s: {reason}"
                    + (f" (latest event: {latest})" if latest else "")
                )
            try:
                event = await asyncio.to_thread(
                    self._next_event, kind, name, namespace, rv, min(remaining, 30.0)
                )
            except TemporaryError:
                await asyncio.sleep(min(self._scaled(1.0), max(0.0, remaining)))
                event = Event("RELIST", None, rv)
            if event.kind == "RELIST":
                obj, rv = await self._current(kind, name, namespace)
            elif event.kind != "TIMEOUT":
                obj, rv = event.obj, event.resource_version
            else:
                rv = event.resource_version
