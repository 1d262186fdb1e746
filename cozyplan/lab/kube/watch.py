"""Watches: a chunked stream of JSON events from a resourceVersion (or the current state),
bookmarks, the watch-list initial-events-end bookmark, and 410 Expired as an ERROR event."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

from aiohttp import web

from cozyplan.lab.kube.errors import StatusError, bad_request, invalid_object, required
from cozyplan.lab.kube.http import TRUE, Handlers, Obj, Target, encode
from cozyplan.lab.kube.resources import ResourceType
from cozyplan.lab.kube.selection import field_matcher, label_matcher


class Watches(Handlers):
    async def watch(self, request: web.Request, t: Target) -> web.StreamResponse:
        raw_rv = request.query.get("resourceVersion", "")
        since: int | None = None
        initial_events = request.query.get("sendInitialEvents") in TRUE
        if initial_events and request.query.get("resourceVersionMatch") != "NotOlderThan":
            raise invalid_object(
                "meta.k8s.io",
                "ListOptions",
                "",
                [
                    required(
                        "resourceVersionMatch",
                        "sendInitialEvents requires setting resourceVersionMatch to NotOlderThan",
                    )
                ],
            )
        if raw_rv not in ("", "0") and not initial_events:
            try:
                since = int(raw_rv)
            except ValueError:
                raise bad_request(f'invalid resource version: "{raw_rv}"') from None
        labels, fields = request.query.get("labelSelector"), request.query.get("fieldSelector")
        matchers: list[Callable[[Obj], bool]] = []
        if labels:
            matchers.append(label_matcher(labels))
        if fields:
            strategy = self.cluster.strategy(t.rt)
            matchers.append(field_matcher(fields, strategy.supported_field_labels(), t.rt.custom))
        response = web.StreamResponse(status=200, headers={"Content-Type": "application/json"})
        response.enable_chunked_encoding()
        try:
            watcher = self.store.watch(t.rt, t.namespace, since)
        except StatusError as exc:  # as the watch cache: an ERROR event, not an HTTP error
            if exc.code != 410:
                raise
            await response.prepare(request)
            await response.write(encode({"type": "ERROR", "object": exc.status()}) + b"\n")
            return response
        start_rv = self.store.rv
        await response.prepare(request)
        bookmarks = request.query.get("allowWatchBookmarks") in TRUE
        timeout = float(request.query.get("timeoutSeconds") or 1800)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        initial = watcher.initial if initial_events else -1
        try:
            if initial == 0 and bookmarks:
                await response.write(self._bookmark(t.rt, start_rv))
            while True:
                left = deadline - loop.time()
                if left <= 0:
                    break
                wait = min(left, max(0.05, self.cluster.faults.latency("bookmark")))
                try:
                    event = await asyncio.wait_for(watcher.queue.get(), wait)
                except TimeoutError:
                    if bookmarks:
                        await response.write(self._bookmark(t.rt))
                    continue
                if event is None:
                    break
                obj = event.obj
                initial -= 1
                if not matchers or all(m(obj) for m in matchers):
                    line = {"type": event.type, "object": self.out(t, obj)}
                    await response.write(encode(line) + b"\n")
                if initial == 0 and bookmarks:
                    await response.write(self._bookmark(t.rt, start_rv))
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        finally:
            self.store.unwatch(watcher)
        with contextlib.suppress(ConnectionResetError, RuntimeError):
            await response.write_eof()
        return response

    def _bookmark(self, rt: ResourceType, initial_end: int = 0) -> bytes:
        meta: Obj = {"resourceVersion": str(initial_end or self.store.rv)}
        if initial_end:  # the end of a watch-list's initial events (KEP-3157)
            meta["annotations"] = {"k8s.io/initial-events-end": "true"}
        obj = {"kind": rt.kind, "apiVersion": rt.api_version, "metadata": meta}
        return encode({"type": "BOOKMARK", "object": obj}) + b"\n"
