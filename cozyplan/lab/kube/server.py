"""The HTTPS API (aiohttp): authentication by client certificate, fault injection, routing of
discovery and resource paths to the read, write and watch handlers."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from aiohttp import web

from cozyplan.lab.kube import discovery
from cozyplan.lab.kube.errors import (
    StatusError,
    method_not_allowed,
    unauthorized,
    unknown_path,
)
from cozyplan.lab.kube.http import (
    TRUE,
    WARNINGS,
    Target,
    User,
    error_response,
    json_response,
    user_of,
)
from cozyplan.lab.kube.reads import Reads
from cozyplan.lab.kube.resources import ResourceType
from cozyplan.lab.kube.watch import Watches
from cozyplan.lab.kube.writes import Writes

if TYPE_CHECKING:
    from cozyplan.lab.kube.cluster import KubeCluster

__all__ = ["Api", "Target", "User", "make_app"]
CLUSTER_KEY: web.AppKey[KubeCluster] = web.AppKey("cluster")


class Api(Reads, Writes, Watches):
    """The routes of one cluster's API server."""

    async def handle(self, request: web.Request) -> web.StreamResponse:
        cluster = self.cluster
        cluster.requests[f"{request.method} {request.path.split('?')[0]}"] += 1
        user = user_of(request)
        if user is None:
            return error_response(unauthorized())
        watching = request.query.get("watch") in TRUE
        faults = cluster.faults
        if not watching:
            await asyncio.sleep(faults.latency("request"))
            if faults.roll("drop") and cluster.world.rng.random() < 0.5:
                return self._drop(request)  # before the request was carried out
            if faults.roll("throttle"):
                return error_response(
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
                    return error_response(
                        StatusError(
                            500,
                            "InternalError",
                            "Internal error occurred: etcdserver: request timed out",
                            {"causes": [{"message": "etcdserver: request timed out"}]},
                        )
                    )
                return error_response(
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
            return error_response(exc)
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
            return json_response(200, discovery.version())
        if parts and parts[0] in ("healthz", "livez", "readyz"):
            return web.Response(text="ok")
        if parts == ["api"]:
            return json_response(200, discovery.api_versions(self.cluster.address))
        if parts == ["apis"]:
            return json_response(200, discovery.api_group_list(served))
        if parts == ["api", "v1"]:
            return json_response(
                200, discovery.resource_list("v1", [r for r in served if not r.group])
            )
        if len(parts) == 2 and parts[0] == "apis":
            for group, versions in discovery.groups(served):
                if group == parts[1]:
                    return json_response(200, discovery.api_group(group, versions))
            raise unknown_path()
        if len(parts) == 3 and parts[0] == "apis":
            types = [r for r in served if r.group == parts[1] and r.version == parts[2]]
            if not types:
                raise unknown_path()
            return json_response(200, discovery.resource_list(f"{parts[1]}/{parts[2]}", types))
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
            return json_response(200, discovery.openapi_index(served))
        gvp = "/".join(rest)
        types = [r for r in served if discovery.gv_path(r.group, r.version) == gvp]
        if not types:
            raise unknown_path()
        return json_response(200, discovery.openapi_gv(types))

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
                return json_response(200, self._scale(t, self.store.stored(t.rt, ns, t.name)))
            if t.subresource == "finalize":
                raise method_not_allowed()
            if t.subresource == "log":
                return self.logs(request, t)
            return self.one(request, t, self.store.stored(t.rt, ns, t.name))
        if m == "PUT":
            return await self.replace(request, t)
        if m == "PATCH":
            return await self.patch(request, t)
        if m == "DELETE" and not t.subresource:
            return await self.delete(request, t)
        raise method_not_allowed()


def make_app(cluster: KubeCluster) -> web.Application:
    api = Api(cluster)
    app = web.Application(client_max_size=16 * 1024 * 1024)
    app[CLUSTER_KEY] = cluster

    async def endpoint(request: web.Request) -> web.StreamResponse:
        return await api.handle(request)

    app.router.add_route("*", "/{tail:.*}", endpoint)
    return app
