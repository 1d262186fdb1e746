"""The HTTPS server (aiohttp): auth, faults, request counting and PVE's JSON envelope."""

from __future__ import annotations

import asyncio
import contextlib
import json
import ssl
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from cozyplan.lab.proxmox import routes_access, routes_cluster, routes_qemu
from cozyplan.lab.proxmox.call import Call, Handler
from cozyplan.lab.proxmox.core import Pve
from cozyplan.lab.proxmox.errors import ApiError

PREFIX = "/api2/json"
PVE_KEY: web.AppKey[Pve] = web.AppKey("pve", Pve)
_FAULT_REPLIES = [
    (500, "Internal Server Error"),
    (502, "Bad Gateway"),
    (503, "Service Unavailable"),
    (596, "Connection timed out"),
]


def _reply(
    status: int, reason: str, data: Any = None, errors: dict[str, str] | None = None
) -> web.Response:
    body: dict[str, Any] = {"data": data}
    if errors:
        body["errors"] = errors
    return web.Response(
        status=status,
        reason=reason.replace("\n", " "),
        text=json.dumps(body),
        content_type="application/json",
    )


def _drop(request: web.Request) -> web.Response:
    if request.transport is not None:
        request.transport.abort()
    raise ConnectionResetError("connection dropped by fault injection")


def _wrap(handler: Handler) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def endpoint(request: web.Request) -> web.StreamResponse:
        pve = request.app[PVE_KEY]
        route = request.match_info.route.resource
        pattern = route.canonical[len(PREFIX) :] if route is not None else request.path
        pve.requests[f"{request.method} {pattern}"] += 1
        try:
            user = pve.store.check_token(request.headers.get("Authorization", ""))
        except ApiError as exc:
            return _reply(exc.status, exc.message)
        await asyncio.sleep(pve.faults.latency("request"))
        if pve.faults.roll("drop") and pve.world.rng.random() < 0.5:
            return _drop(request)
        if pve.faults.roll("error"):
            status, reason = pve.world.rng.choice(_FAULT_REPLIES)
            return _reply(status, reason)
        params: dict[str, str] = dict(request.query)
        if request.method in ("POST", "PUT"):
            form = await request.post()
            params.update({k: str(v) for k, v in form.items()})
        call = Call(dict(request.match_info), params, user)
        try:
            data = await handler(pve, call)
        except ApiError as exc:
            return _reply(exc.status, exc.message, errors=exc.errors)
        if pve.faults.roll("drop") or pve.faults.drop_once(f"{request.method} {pattern}"):
            return _drop(request)
        return _reply(200, "OK", data)

    return endpoint


@web.middleware
async def _not_implemented(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    try:
        return await handler(request)
    except (web.HTTPNotFound, web.HTTPMethodNotAllowed):
        path = request.path[len(PREFIX) :] if request.path.startswith(PREFIX) else request.path
        return _reply(501, f"Method '{request.method} {path}' not implemented")


def make_app(pve: Pve) -> web.Application:
    app = web.Application(middlewares=[_not_implemented])
    app[PVE_KEY] = pve
    for method, path, handler in (
        *routes_cluster.ROUTES,
        *routes_qemu.ROUTES,
        *routes_access.ROUTES,
    ):
        app.router.add_route(method, PREFIX + path, _wrap(handler))
    return app


class HttpsServer:
    """Runs the app on one loopback address with TLS."""

    def __init__(self, app: web.Application, ssl_context: ssl.SSLContext) -> None:
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        self._ssl = ssl_context
        self._site: web.TCPSite | None = None

    async def start(self, host: str, port: int) -> int:
        await self._runner.setup()
        try:
            self._site = web.TCPSite(self._runner, host, port, ssl_context=self._ssl)
            await self._site.start()
        except OSError:
            self._site = web.TCPSite(self._runner, host, 0, ssl_context=self._ssl)
            await self._site.start()
        server = self._site._server  # the bound asyncio server: read its real port
        sockets = getattr(server, "sockets", None) or []
        return int(sockets[0].getsockname()[1]) if sockets else port

    async def stop(self) -> None:
        with contextlib.suppress(Exception):
            await self._runner.cleanup()
