"""One connection to an API server: the official client's TLS and auth, raw calls, watches.

The kubeconfig is loaded by the ``kubernetes`` package (CA, client certificate, token, context)
into one ``ApiClient``; requests go through that client's urllib3 pool, so TLS is exactly what the
official client does. When ``resolve_endpoint`` moves the server (the lab maps
``10.0.0.201:6443`` to loopback), the certificate is still verified against the kubeconfig's
original host name (``tls_server_name``). Calls block: callers run them in a thread.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import urllib3
from kubernetes.client import ApiClient, Configuration
from kubernetes.config.config_exception import ConfigException
from kubernetes.config.kube_config import KubeConfigLoader

from cozyplan.provider import PermanentError
from cozyplan_kubernetes.errors import Request, api_error, transport_error

EndpointResolver = Callable[[str, str, int], tuple[str, int]]

JSON = "application/json"
APPLY_PATCH = "application/apply-patch+yaml"
MERGE_PATCH = "application/merge-patch+json"


@dataclass(frozen=True)
class Response:
    status: int
    body: dict[str, Any]


def _host_port(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def load_configuration(
    kubeconfig: Mapping[str, Any],
    context: str | None,
    base_dir: Path,
    resolve: EndpointResolver,
) -> tuple[Configuration, str]:
    """The client configuration for ``context`` (default: current-context) and its user name."""
    try:
        loader = KubeConfigLoader(  # type: ignore[no-untyped-call]
            config_dict=dict(kubeconfig),
            active_context=context,
            config_base_path=str(base_dir),
        )
        cfg = Configuration()
        loader.load_and_set(cfg)  # type: ignore[no-untyped-call]
        user = str((loader.current_context.get("context") or {}).get("user") or "")
    except (ConfigException, KeyError, TypeError, ValueError) as exc:
        raise PermanentError(f"kubeconfig: {exc}") from None
    url = urlsplit(cfg.host)
    if not url.hostname:
        raise PermanentError(f"kubeconfig: server {cfg.host!r} has no host name")
    port = url.port or (443 if url.scheme == "https" else 80)
    host, mapped_port = resolve("kubernetes", url.hostname, port)
    if (host, mapped_port) != (url.hostname, port):
        cfg.host = f"{url.scheme}://{_host_port(host, mapped_port)}{url.path}"
        if not cfg.tls_server_name:
            cfg.tls_server_name = url.hostname  # verify the certificate for the real name
    return cfg, user


class KubeClient:
    """Raw JSON calls on one ``ApiClient``'s connection pool."""

    def __init__(self, cfg: Configuration, user: str, *, timeout: float) -> None:
        self.api = ApiClient(cfg)
        self.pool = self.api.rest_client.pool_manager
        self.base = cfg.host.rstrip("/")
        self.user = user
        self.timeout = timeout
        self._headers: dict[str, str] = {"Accept": JSON, "User-Agent": "cozyplan"}
        token = cfg.api_key.get("BearerToken") or cfg.api_key.get("authorization")
        if token:
            self._headers["Authorization"] = (
                token if token.startswith("Bearer ") else (f"Bearer {token}")
            )

    def close(self) -> None:
        self.api.close()  # type: ignore[no-untyped-call]

    def _url(self, path: str, query: Mapping[str, Any] | None) -> str:
        params = {k: v for k, v in (query or {}).items() if v is not None}
        return f"{self.base}{path}" + (f"?{urlencode(params)}" if params else "")

    def request(
        self,
        method: str,
        path: str,
        req: Request,
        *,
        query: Mapping[str, Any] | None = None,
        body: Any = None,
        content_type: str = JSON,
        allow: tuple[int, ...] = (),
    ) -> Response:
        """One call; a status in ``allow`` (e.g. 404 for a read) is returned, not raised."""
        headers = dict(self._headers)
        data = None
        if body is not None:
            headers["Content-Type"] = content_type
            data = json.dumps(body).encode()
        req = Request(req.verb, req.what, self.user)
        try:
            resp = self.pool.request(
                method,
                self._url(path, query),
                body=data,
                headers=headers,
                timeout=urllib3.Timeout(connect=self.timeout, read=self.timeout),
                retries=False,
            )
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise transport_error(req, exc) from None
        if resp.status in allow:
            return Response(resp.status, _json(resp.data))
        if resp.status >= 400:
            raise api_error(req, resp.status, resp.data, dict(resp.headers))
        return Response(resp.status, _json(resp.data))

    def watch(
        self, path: str, req: Request, query: Mapping[str, Any], *, timeout: float
    ) -> Generator[dict[str, Any], None, None]:
        """The events of one watch request (``{"type": ..., "object": ...}``), streamed.

        The server ends the stream after ``timeoutSeconds``; the caller resumes from the last
        resourceVersion it saw. An expired resourceVersion arrives as an ``ERROR`` event (or a
        410 answer) with code 410: the caller lists again.
        """
        req = Request(req.verb, req.what, self.user)
        q = {**query, "watch": "true", "timeoutSeconds": max(1, int(timeout))}
        try:
            resp = self.pool.request(
                "GET",
                self._url(path, q),
                headers=self._headers,
                timeout=urllib3.Timeout(connect=self.timeout, read=timeout + self.timeout),
                retries=False,
                preload_content=False,
            )
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise transport_error(req, exc) from None
        finished = False
        try:
            if resp.status == 410:
                yield {"type": "ERROR", "object": {"kind": "Status", "code": 410}}
                return
            if resp.status >= 400:
                raise api_error(req, resp.status, resp.data, dict(resp.headers))
            buffer = b""
            for chunk in resp.stream(4096):
                buffer += chunk
                while b"\n" in buffer:
                    line, buffer = buffer.split(b"\n", 1)
                    if line.strip():
                        yield json.loads(line)
            if buffer.strip():
                yield json.loads(buffer)
            finished = True
        except (urllib3.exceptions.HTTPError, OSError, ValueError) as exc:
            raise transport_error(req, exc) from None
        finally:
            if not finished:
                resp.close()  # a stream left half-read must not go back into the pool
            resp.release_conn()


def _json(data: bytes) -> dict[str, Any]:
    if not data:
        return {}
    try:
        doc = json.loads(data)
    except ValueError:
        return {}
    return doc if isinstance(doc, dict) else {}
