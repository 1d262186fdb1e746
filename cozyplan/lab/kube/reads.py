"""Reads: get, list (selectors, pagination), tables for kubectl and partial metadata."""

from __future__ import annotations

import base64
import json

from aiohttp import web

from cozyplan.lab.kube.errors import bad_request
from cozyplan.lab.kube.http import Handlers, Obj, Target, json_response, partial, sort_key
from cozyplan.lab.kube.resources import ResourceType
from cozyplan.lab.kube.strategies import age


class Reads(Handlers):
    def one(self, request: web.Request, t: Target, obj: Obj, status: int = 200) -> web.Response:
        accept = request.headers.get("Accept", "")
        if "as=Table" in accept:
            return json_response(status, self.table(request, t.rt, [obj], {}))
        if "as=PartialObjectMetadata" in accept:
            return json_response(status, partial(obj))
        return json_response(status, self.out(t, obj))

    def list_objects(self, request: web.Request, t: Target) -> web.Response:
        items = self._select(request, t)
        rv = str(self.store.rv)
        cont_in = request.query.get("continue")
        if cont_in:
            try:
                token = json.loads(base64.urlsafe_b64decode(cont_in.encode()))
                start, rv = str(token["start"]), str(token["rv"])
            except (ValueError, KeyError, TypeError):
                raise bad_request(
                    "continue key is not valid: the continue token is not valid"
                ) from None
            items = [o for o in items if sort_key(o) > start]
        cont = None
        limit = int(request.query.get("limit") or 0)
        if limit > 0 and len(items) > limit:
            items = items[:limit]
            token = {"rv": rv, "start": sort_key(items[-1])}
            cont = base64.urlsafe_b64encode(json.dumps(token).encode()).decode()
        items = [self.out(t, item) for item in items]
        accept = request.headers.get("Accept", "")
        if "as=Table" in accept:
            return json_response(
                200, self.table(request, t.rt, items, {"resourceVersion": rv, "continue": cont})
            )
        if "as=PartialObjectMetadataList" in accept:
            return json_response(
                200,
                {
                    "kind": "PartialObjectMetadataList",
                    "apiVersion": "meta.k8s.io/v1",
                    "metadata": {"resourceVersion": rv},
                    "items": [partial(o) for o in items],
                },
            )
        return json_response(200, self._list_body(t.rt, items, rv, cont))

    def logs(self, request: web.Request, t: Target) -> web.Response:
        """What the kubelet would stream: a line per container start (no real processes)."""
        pod = self.store.get(t.rt, t.namespace or "", t.name)
        containers = [c.get("name") for c in (pod.get("spec") or {}).get("containers") or []]
        wanted = request.query.get("container") or (containers[0] if containers else "")
        if wanted not in containers:
            raise bad_request(f"container {wanted} is not valid for pod {t.name}")
        statuses = {
            c.get("name"): c for c in (pod.get("status") or {}).get("containerStatuses") or []
        }
        state = (statuses.get(wanted) or {}).get("state") or {}
        if "running" not in state and "terminated" not in state:
            reason = (state.get("waiting") or {}).get("reason", "ContainerCreating")
            raise bad_request(
                f'container "{wanted}" in pod "{t.name}" is waiting to start: {reason}'
            )
        image = (statuses.get(wanted) or {}).get("image", "")
        return web.Response(
            text=f"lab: container {wanted} ({image}) started\n", content_type="text/plain"
        )

    def table(self, request: web.Request, rt: ResourceType, items: list[Obj], meta: Obj) -> Obj:
        strategy = self.cluster.strategy(rt)
        columns = [
            {"name": n, "type": ty, "format": fmt, "description": n, "priority": 0}
            for n, ty, fmt in strategy.columns()
        ]
        if strategy.age_column:
            columns.append(
                {
                    "name": "Age",
                    "type": "string",
                    "format": "",
                    "priority": 0,
                    "description": "CreationTimestamp is a timestamp representing the server "
                    "time when this object was created.",
                }
            )
        columns += [
            {"name": n, "type": ty, "format": fmt, "description": n, "priority": 1}
            for n, ty, fmt in strategy.wide_columns()
        ]
        include = request.query.get("includeObject", "Metadata")
        rows = []
        for obj in items:
            row_obj = self.out(rt, obj) if include == "Object" else partial(obj)
            cells = [
                *strategy.cells(obj),
                *([age(obj)] if strategy.age_column else []),
                *strategy.wide_cells(obj),
            ]
            rows.append({"cells": cells, "object": row_obj})
        return {
            "kind": "Table",
            "apiVersion": "meta.k8s.io/v1",
            "metadata": {k: v for k, v in meta.items() if v},
            "columnDefinitions": columns,
            "rows": rows,
        }
