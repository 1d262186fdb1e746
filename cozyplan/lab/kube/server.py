"""The HTTPS API (aiohttp): authentication by client certificate, fault injection, routing of
discovery and resource paths, and the REST verbs over the cluster's generic store."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import contextvars
import copy
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aiohttp import web
from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from cozyplan.lab.kube import crd, discovery, managed, patch, protobuf
from cozyplan.lab.kube.errors import (
    StatusError,
    bad_request,
    expired,
    invalid_object,
    method_not_allowed,
    not_found,
    required,
    unauthorized,
    unknown_path,
    unsupported_media,
)
from cozyplan.lab.kube.resources import ResourceType
from cozyplan.lab.kube.selection import field_matcher, label_matcher
from cozyplan.lab.kube.strategies import age

if TYPE_CHECKING:
    from cozyplan.lab.kube.cluster import KubeCluster

Obj = dict[str, Any]
CLUSTER_KEY: web.AppKey[KubeCluster] = web.AppKey("cluster")
#: the Warning headers of the request being handled (each request runs in its own task)
WARNINGS: contextvars.ContextVar[list[str]] = contextvars.ContextVar("warnings")
_TRUE = ("true", "True", "1")
#: kinds whose registry answers a DELETE with the deleted object, not a Status
_RETURNS_DELETED = {
    ("", "pods"),
    ("", "persistentvolumeclaims"),
    ("", "persistentvolumes"),
    ("", "services"),
    ("", "serviceaccounts"),
    ("storage.k8s.io", "storageclasses"),
}


@dataclass
class User:
    name: str
    groups: list[str]


@dataclass
class Target:
    rt: ResourceType
    namespace: str | None  # None: all namespaces (or cluster-scoped)
    name: str
    subresource: str


def _json(status: int, body: Any, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(
        status=status,
        text=json.dumps(body),
        content_type="application/json",
        headers=headers,
    )


def _error(exc: StatusError) -> web.Response:
    return _json(exc.code, exc.status(), exc.headers)


def _user(request: web.Request) -> User | None:
    transport = request.transport
    cert = transport.get_extra_info("peercert") if transport is not None else None
    if not cert:
        return None
    name, groups = "", []
    for rdn in cert.get("subject", ()):
        for key, value in rdn:
            if key == "commonName":
                name = value
            elif key == "organizationName":
                groups.append(value)
    return User(name, [*groups, "system:authenticated"]) if name else None


def _decode(body: bytes, content_type: str) -> Any:
    if content_type == "application/vnd.kubernetes.protobuf":
        try:
            return protobuf.decode(body)
        except protobuf.Unsupported:
            raise unsupported_media(["application/json", "application/yaml"]) from None
    if "protobuf" in content_type or "cbor" in content_type:
        raise unsupported_media(["application/json", "application/yaml"])
    if not body:
        raise bad_request("the body of the request was empty")
    if "yaml" in content_type:
        try:
            return YAML(typ="safe", pure=True).load(body.decode())
        except YAMLError as exc:
            raise bad_request(f"error converting YAML to JSON: {exc}") from None
    try:
        return json.loads(body)
    except ValueError as exc:
        raise bad_request(f"couldn't get version/kind; json parse error: {exc}") from None


def manager_for(request: web.Request) -> str:
    manager = request.query.get("fieldManager")
    if manager:
        if len(manager) > 128:
            raise invalid_object(
                "meta.k8s.io",
                "PatchOptions",
                "",
                [required("fieldManager", "must be less than 128 characters")],
            )
        return manager
    agent = request.headers.get("User-Agent", "")
    return agent.split("/", 1)[0] or "unknown"


class Api:
    """The routes of one cluster's API server."""

    def __init__(self, cluster: KubeCluster) -> None:
        self.cluster = cluster
        self.store = cluster.store

    # -- entry ---------------------------------------------------------------------------------
    async def handle(self, request: web.Request) -> web.StreamResponse:
        cluster = self.cluster
        cluster.requests[f"{request.method} {request.path.split('?')[0]}"] += 1
        user = _user(request)
        if user is None:
            return _error(unauthorized())
        watching = request.query.get("watch") in _TRUE
        faults = cluster.faults
        if not watching:
            await asyncio.sleep(faults.latency("request"))
            if faults.roll("drop") and cluster.world.rng.random() < 0.5:
                return self._drop(request)  # before the request was carried out
            if faults.roll("throttle"):
                return _error(
                    StatusError(
                        429,
                        "TooManyRequests",
                        "Too many requests, please try again later.",
                        {"retryAfterSeconds": 1},
                        {"Retry-After": "1"},
                    )
                )
            if faults.roll("error"):
                if cluster.world.rng.random() < 0.5:
                    return _error(
                        StatusError(
                            500,
                            "InternalError",
                            "Internal error occurred: etcdserver: request timed out",
                            {"causes": [{"message": "etcdserver: request timed out"}]},
                        )
                    )
                return _error(
                    StatusError(
                        503,
                        "ServiceUnavailable",
                        "the server is currently unable to handle the request",
                        {},
                        {"Retry-After": "1"},
                    )
                )
        warnings: list[str] = []
        WARNINGS.set(warnings)
        try:
            response = await self.route(request, user, watching)
        except StatusError as exc:
            return _error(exc)
        for text in warnings:
            escaped = text.replace('"', '\\"')
            response.headers.add("Warning", f'299 - "{escaped}"')
        if not watching and request.method != "GET" and faults.roll("drop"):
            return self._drop(request)  # after: the write happened, the client never knows
        return response

    @staticmethod
    def _drop(request: web.Request) -> web.Response:
        if request.transport is not None:
            request.transport.abort()  # the reply below goes nowhere
        return web.Response(status=500)

    async def route(self, request: web.Request, user: User, watching: bool) -> web.StreamResponse:
        parts = [p for p in request.path.split("/") if p]
        served = self.cluster.served()
        if parts in (["version"], ["version", ""]):
            return _json(200, discovery.version())
        if parts and parts[0] in ("healthz", "livez", "readyz"):
            return web.Response(text="ok")
        if parts == ["api"]:
            return _json(200, discovery.api_versions(self.cluster.address))
        if parts == ["apis"]:
            return _json(200, discovery.api_group_list(served))
        if parts == ["api", "v1"]:
            return _json(200, discovery.resource_list("v1", [r for r in served if not r.group]))
        if len(parts) == 2 and parts[0] == "apis":
            for group, versions in discovery.groups(served):
                if group == parts[1]:
                    return _json(200, discovery.api_group(group, versions))
            raise unknown_path()
        if len(parts) == 3 and parts[0] == "apis":
            types = [r for r in served if r.group == parts[1] and r.version == parts[2]]
            if not types:
                raise unknown_path()
            return _json(200, discovery.resource_list(f"{parts[1]}/{parts[2]}", types))
        if parts[:2] == ["openapi", "v3"]:
            return self.openapi(parts[2:], served)
        if parts[:2] == ["openapi", "v2"]:
            raise StatusError(404, "NotFound", "the lab serves OpenAPI v3 only", {})
        target = self.target(parts, served)
        if target is None:
            raise unknown_path()
        self.cluster.authorize(user, request.method, target, watching)
        return await self.rest(request, target, watching)

    def openapi(self, rest: list[str], served: list[ResourceType]) -> web.Response:
        if not rest:
            return _json(200, discovery.openapi_index(served))
        gvp = "/".join(rest)
        types = [r for r in served if discovery.gv_path(r.group, r.version) == gvp]
        if not types:
            raise unknown_path()
        return _json(200, discovery.openapi_gv(types))

    @staticmethod
    def target(parts: list[str], served: list[ResourceType]) -> Target | None:
        if parts[:2] == ["api", "v1"]:
            group, version, rest = "", "v1", parts[2:]
        elif len(parts) >= 3 and parts[0] == "apis":
            group, version, rest = parts[1], parts[2], parts[3:]
        else:
            return None
        types = {r.plural: r for r in served if r.group == group and r.version == version}
        namespace: str | None = None
        if len(rest) >= 3 and rest[0] == "namespaces" and rest[2] in types:
            if not types[rest[2]].namespaced:
                return None
            namespace, rest = rest[1], rest[2:]
        if not rest or rest[0] not in types or len(rest) > 3:
            return None
        rt = types[rest[0]]
        name = rest[1] if len(rest) > 1 else ""
        sub = rest[2] if len(rest) > 2 else ""
        allowed = rt.subresources + (("finalize",) if rt.kind == "Namespace" and not group else ())
        if sub and sub not in allowed:
            return None
        if rt.namespaced and name and namespace is None:
            return None
        return Target(rt, namespace, name, sub)

    # -- REST ---------------------------------------------------------------------------------
    async def rest(self, request: web.Request, t: Target, watching: bool) -> web.StreamResponse:
        m = request.method
        if not t.name:
            if m == "GET":
                if watching:
                    return await self.watch(request, t)
                return self.list_objects(request, t)
            if m == "POST":
                return await self.create(request, t)
            if m == "DELETE" and "deletecollection" in t.rt.verbs:
                return await self.delete_collection(request, t)
            raise method_not_allowed()
        ns = t.namespace or ""
        if m == "GET":
            if t.subresource == "scale":
                return _json(200, self._scale(t, self.store.get(t.rt, ns, t.name)))
            if t.subresource == "finalize":
                raise method_not_allowed()
            return self.one(request, t, self.store.get(t.rt, ns, t.name))
        if m == "PUT":
            return await self.replace(request, t)
        if m == "PATCH":
            return await self.patch(request, t)
        if m == "DELETE" and not t.subresource:
            return await self.delete(request, t)
        raise method_not_allowed()

    def out(self, t: Target | ResourceType, obj: Obj) -> Obj:
        rt = t.rt if isinstance(t, Target) else t
        obj["apiVersion"] = rt.api_version
        return obj

    def one(self, request: web.Request, t: Target, obj: Obj, status: int = 200) -> web.Response:
        accept = request.headers.get("Accept", "")
        if "as=Table" in accept:
            return _json(status, self.table(request, t.rt, [obj], {}))
        if "as=PartialObjectMetadata" in accept:
            return _json(status, _partial(obj))
        return _json(status, self.out(t, obj))

    @staticmethod
    def _dry_run(request: web.Request) -> bool:
        values = request.query.getall("dryRun", [])
        for v in values:
            if v != "All":
                raise bad_request(f'Invalid dryRun: "{v}" (supported values: "All")')
        return bool(values)

    def _admit(self, request: web.Request, t: Target, body: Obj) -> Obj:
        """Field validation (``fieldValidation``), then the kind's admission (CR schemas)."""
        if t.rt.custom:
            directive = request.query.get("fieldValidation", "Warn")
            if directive not in ("Ignore", "Warn", "Strict"):
                raise bad_request(
                    f'fieldValidation: Unsupported value: "{directive}": supported values: '
                    '"Ignore", "Strict", "Warn"'
                )
            crd.check_fields(t.rt, body, directive, WARNINGS.get())
        return self.cluster.admit(t.rt, body)

    def _body_object(self, t: Target, body: Any) -> Obj:
        if not isinstance(body, dict):
            raise bad_request("the body of the request could not be decoded as an object")
        kind, api_version = body.get("kind"), body.get("apiVersion")
        if kind and kind != t.rt.kind and not t.subresource:
            raise bad_request(
                f"the API version in the data ({api_version}) does not match the expected API "
                f"version ({t.rt.api_version})"
                if api_version != t.rt.api_version
                else f"the kind in the data ({kind}) does not match the expected kind ({t.rt.kind})"
            )
        return body

    async def create(self, request: web.Request, t: Target) -> web.Response:
        if t.namespace is None and t.rt.namespaced:
            raise method_not_allowed()
        body = self._body_object(t, _decode(await request.read(), request.content_type))
        obj = self._admit(request, t, body)
        created = self.store.create(
            t.rt, t.namespace or "", obj, manager_for(request), dry_run=self._dry_run(request)
        )
        return _json(201, self.out(t, created))

    async def replace(self, request: web.Request, t: Target) -> web.Response:
        body = self._body_object(t, _decode(await request.read(), request.content_type))
        ns = t.namespace or ""
        if t.subresource == "scale":
            return await self._write_scale(request, t, body)
        if t.subresource == "finalize":
            current = self.store.get(t.rt, ns, t.name)
            finalizers = (body.get("spec") or {}).get("finalizers") or []
            self.store.finalize_namespace(t.name, list(finalizers))
            current.setdefault("spec", {})["finalizers"] = finalizers
            return _json(200, current)
        body = self._admit(request, t, body)
        if self.store.find(t.rt, ns, t.name) is None:
            raise not_found(t.rt.gr, t.name)
        updated = self.store.update(
            t.rt,
            ns,
            t.name,
            body,
            manager_for(request),
            subresource=t.subresource,
            dry_run=self._dry_run(request),
        )
        return _json(200, self.out(t, updated))

    async def patch(self, request: web.Request, t: Target) -> web.Response:
        ctype = request.content_type
        if ctype not in patch.PATCH_TYPES or (ctype == patch.STRATEGIC and t.rt.custom):
            types = [p for p in patch.PATCH_TYPES if not (t.rt.custom and p == patch.STRATEGIC)]
            raise unsupported_media(types)
        force = request.query.get("force") in _TRUE
        if force and ctype != patch.APPLY_YAML:
            raise invalid_object(
                "meta.k8s.io",
                "PatchOptions",
                "",
                [
                    required("force").__class__(
                        "Forbidden", "force", detail="may not be specified for non-apply patch"
                    )
                ],
            )
        body = _decode(await request.read(), "yaml" if ctype == patch.APPLY_YAML else "json")
        ns = t.namespace or ""
        dry_run = self._dry_run(request)
        strategy = self.cluster.strategy(t.rt)
        if ctype == patch.APPLY_YAML:
            return self._apply(request, t, body, force, dry_run)
        live = self.store.get(t.rt, ns, t.name)
        if t.subresource == "scale":
            scale = self._scale(t, live)
            return await self._write_scale(request, t, patch.merge_patch(scale, body))
        if ctype == patch.MERGE_PATCH:
            new = patch.merge_patch(live, body)
        elif ctype == patch.JSON_PATCH:
            new = patch.json_patch(live, body)
        else:
            new = patch.strategic_merge_patch(live, body, strategy.list_types)
        new = self._admit(request, t, new)
        updated = self.store.update(
            t.rt,
            ns,
            t.name,
            new,
            manager_for(request),
            subresource=t.subresource,
            dry_run=dry_run,
        )
        return _json(200, self.out(t, updated))

    def _apply(
        self, request: web.Request, t: Target, body: Any, force: bool, dry_run: bool
    ) -> web.Response:
        manager = request.query.get("fieldManager", "")
        if not manager:
            raise invalid_object(
                "meta.k8s.io",
                "PatchOptions",
                "",
                [required("fieldManager", "is required for apply patch")],
            )
        if not isinstance(body, dict):
            raise bad_request("the body of the request could not be decoded as an object")
        if not body.get("kind"):
            raise bad_request(f"Object 'Kind' is missing in '{json.dumps(body)}'")
        if body.get("apiVersion") != t.rt.api_version or body.get("kind") != t.rt.kind:
            raise bad_request(
                f"the API version in the data ({body.get('apiVersion')}) does not match the "
                f"expected API version ({t.rt.api_version})"
                if body.get("apiVersion") != t.rt.api_version
                else f"the kind in the data ({body.get('kind')}) does not match the expected "
                f"kind ({t.rt.kind})"
            )
        meta = body.get("metadata") or {}
        if meta.get("name") not in (None, t.name):
            raise bad_request(
                f"the name of the object ({meta.get('name')}) does not match the name on the "
                f"URL ({t.name})"
            )
        ns = t.namespace or ""
        strategy = self.cluster.strategy(t.rt)
        if t.rt.custom:
            crd.check_apply(t.rt, body, ns, t.name)
        live = self.store.find(t.rt, ns, t.name)
        merged = managed.apply(
            copy.deepcopy(live) if live is not None else None,
            body,
            manager,
            force=force,
            list_types=strategy.list_types,
            reset=strategy.reset_fields(t.subresource),
            subresource=t.subresource,
        )
        merged.setdefault("metadata", {})["name"] = t.name
        merged = self.cluster.admit(t.rt, merged)
        if live is None:
            if t.subresource:
                raise not_found(t.rt.gr, t.name)
            created = self.store.create(
                t.rt, ns, merged, manager, dry_run=dry_run, apply_fields=True
            )
            return _json(201, self.out(t, created))
        merged["metadata"]["resourceVersion"] = (body.get("metadata") or {}).get(
            "resourceVersion"
        ) or live["metadata"]["resourceVersion"]
        updated = self.store.update(
            t.rt,
            ns,
            t.name,
            merged,
            manager,
            subresource=t.subresource,
            dry_run=dry_run,
            apply_fields=True,
        )
        return _json(200, self.out(t, updated))

    def _scale(self, t: Target, obj: Obj) -> Obj:
        spec, status = obj.get("spec") or {}, obj.get("status") or {}
        selector = ",".join(
            f"{k}={v}" for k, v in ((spec.get("selector") or {}).get("matchLabels") or {}).items()
        )
        meta = obj["metadata"]
        return {
            "kind": "Scale",
            "apiVersion": "autoscaling/v1",
            "metadata": {
                k: meta[k]
                for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")
                if k in meta
            },
            "spec": {"replicas": spec.get("replicas", 0)},
            "status": {"replicas": status.get("replicas", 0), "selector": selector},
        }

    async def _write_scale(self, request: web.Request, t: Target, scale: Any) -> web.Response:
        ns = t.namespace or ""
        live = self.store.get(t.rt, ns, t.name)
        replicas = ((scale or {}).get("spec") or {}).get("replicas")
        if not isinstance(replicas, int):
            raise bad_request("spec.replicas: Required value")
        live["spec"]["replicas"] = replicas
        rv = ((scale or {}).get("metadata") or {}).get("resourceVersion")
        live["metadata"]["resourceVersion"] = rv or live["metadata"]["resourceVersion"]
        updated = self.store.update(
            t.rt,
            ns,
            t.name,
            live,
            manager_for(request),
            subresource="scale",
            dry_run=self._dry_run(request),
        )
        return _json(200, self._scale(t, updated))

    async def _delete_options(self, request: web.Request) -> Obj:
        options: Obj = {}
        raw = await request.read()
        if raw:
            got = _decode(raw, request.content_type or "json")
            if isinstance(got, dict):
                options = got
        for key in ("propagationPolicy", "gracePeriodSeconds", "orphanDependents"):
            if key in request.query:
                options[key] = request.query[key]
        if str(options.get("orphanDependents")).lower() == "true":
            options.setdefault("propagationPolicy", "Orphan")
        policy = options.get("propagationPolicy")
        if policy not in (None, "Orphan", "Foreground", "Background"):
            raise invalid_object(
                "meta.k8s.io",
                "DeleteOptions",
                "",
                [
                    required("propagationPolicy").__class__(
                        "Unsupported",
                        "propagationPolicy",
                        policy,
                        'supported values: "Foreground", "Background", "Orphan", nil',
                        True,
                    )
                ],
            )
        return options

    async def delete(self, request: web.Request, t: Target) -> web.Response:
        options = await self._delete_options(request)
        pre = options.get("preconditions") or {}
        obj, gone = self.store.delete(
            t.rt,
            t.namespace or "",
            t.name,
            propagation=options.get("propagationPolicy") or self.cluster.default_propagation(t.rt),
            precondition_uid=pre.get("uid"),
            precondition_rv=pre.get("resourceVersion"),
            dry_run=self._dry_run(request),
        )
        if gone and not t.rt.custom and (t.rt.group, t.rt.plural) not in _RETURNS_DELETED:
            details: Obj = {"name": t.name}
            if t.rt.group:
                details["group"] = t.rt.group
            details.update(kind=t.rt.plural, uid=obj["metadata"].get("uid"))
            return _json(
                200,
                {
                    "kind": "Status",
                    "apiVersion": "v1",
                    "metadata": {},
                    "status": "Success",
                    "details": details,
                },
            )
        return _json(200, self.out(t, obj))

    async def delete_collection(self, request: web.Request, t: Target) -> web.Response:
        options = await self._delete_options(request)
        items = self._select(request, t)
        deleted = []
        for obj in items:
            meta = obj["metadata"]
            with contextlib.suppress(StatusError):
                got, _ = self.store.delete(
                    t.rt,
                    meta.get("namespace", ""),
                    meta["name"],
                    propagation=options.get("propagationPolicy"),
                    dry_run=self._dry_run(request),
                )
                deleted.append(self.out(t, got))
        return _json(200, self._list_body(t.rt, deleted, str(self.store.rv), None))

    # -- lists, tables, watches ----------------------------------------------------------------
    def _select(self, request: web.Request, t: Target) -> list[Obj]:
        items = self.store.items(t.rt, t.namespace)
        labels = request.query.get("labelSelector")
        fields = request.query.get("fieldSelector")
        if labels:
            match = label_matcher(labels)
            items = [o for o in items if match(o)]
        if fields:
            strategy = self.cluster.strategy(t.rt)
            fmatch = field_matcher(fields, strategy.supported_field_labels(), t.rt.custom)
            items = [o for o in items if fmatch(o)]
        return [copy.deepcopy(o) for o in items]

    def _list_body(self, rt: ResourceType, items: list[Obj], rv: str, cont: str | None) -> Obj:
        meta: Obj = {"resourceVersion": rv}
        if cont:
            meta["continue"] = cont
        if not rt.custom:
            for item in items:
                item.pop("apiVersion", None)
                item.pop("kind", None)
        return {
            "kind": rt.list_kind,
            "apiVersion": rt.api_version,
            "metadata": meta,
            "items": items,
        }

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
            items = [o for o in items if _sort_key(o) > start]
        cont = None
        limit = int(request.query.get("limit") or 0)
        if limit > 0 and len(items) > limit:
            items = items[:limit]
            token = {"rv": rv, "start": _sort_key(items[-1])}
            cont = base64.urlsafe_b64encode(json.dumps(token).encode()).decode()
        for item in items:
            self.out(t, item)
        accept = request.headers.get("Accept", "")
        if "as=Table" in accept:
            return _json(
                200, self.table(request, t.rt, items, {"resourceVersion": rv, "continue": cont})
            )
        if "as=PartialObjectMetadataList" in accept:
            return _json(
                200,
                {
                    "kind": "PartialObjectMetadataList",
                    "apiVersion": "meta.k8s.io/v1",
                    "metadata": {"resourceVersion": rv},
                    "items": [_partial(o) for o in items],
                },
            )
        return _json(200, self._list_body(t.rt, items, rv, cont))

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
        include = request.query.get("includeObject", "Metadata")
        rows = []
        for obj in items:
            row_obj = self.out(rt, copy.deepcopy(obj)) if include == "Object" else _partial(obj)
            cells = [*strategy.cells(obj), *([age(obj)] if strategy.age_column else [])]
            rows.append({"cells": cells, "object": row_obj})
        return {
            "kind": "Table",
            "apiVersion": "meta.k8s.io/v1",
            "metadata": {k: v for k, v in meta.items() if v},
            "columnDefinitions": columns,
            "rows": rows,
        }

    async def watch(self, request: web.Request, t: Target) -> web.StreamResponse:
        raw_rv = request.query.get("resourceVersion", "")
        since: int | None = None
        initial_events = request.query.get("sendInitialEvents") in _TRUE
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
            await response.write(
                json.dumps({"type": "ERROR", "object": exc.status()}).encode() + b"\n"
            )
            return response
        start_rv = self.store.rv
        await response.prepare(request)
        bookmarks = request.query.get("allowWatchBookmarks") in _TRUE
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
                    line = {"type": event.type, "object": self.out(t, copy.deepcopy(obj))}
                    await response.write(json.dumps(line).encode() + b"\n")
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
        return json.dumps({"type": "BOOKMARK", "object": obj}).encode() + b"\n"


def _sort_key(obj: Obj) -> str:
    meta = obj["metadata"]
    return f"{meta.get('namespace', '')}/{meta['name']}"


def _partial(obj: Obj) -> Obj:
    return {
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": copy.deepcopy(obj["metadata"]),
    }


def make_app(cluster: KubeCluster) -> web.Application:
    api = Api(cluster)
    app = web.Application(client_max_size=16 * 1024 * 1024)
    app[CLUSTER_KEY] = cluster

    async def endpoint(request: web.Request) -> web.StreamResponse:
        return await api.handle(request)

    app.router.add_route("*", "/{tail:.*}", endpoint)
    return app


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
__all__ = ["Api", "User", "expired", "make_app"]
