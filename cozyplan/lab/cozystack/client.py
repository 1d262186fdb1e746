"""A small async Kubernetes REST client for the lab's simulated controllers.

The controllers are clients of the lab's API server like real ones: HTTPS with a client
certificate signed by the cluster's CA (group ``system:masters``), discovery to find plurals
and scopes, server-side apply as their own field manager, status written through the status
subresource. A kind that is not served yet reads as empty (its CRD comes with its chart).
"""

from __future__ import annotations

import datetime as dt
import json
import ssl
import tempfile
from pathlib import Path
from typing import Any

import aiohttp
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

Obj = dict[str, Any]


class ApiError(RuntimeError):
    def __init__(self, status: int, body: Any) -> None:
        message = body.get("message") if isinstance(body, dict) else str(body)
        super().__init__(f"HTTP {status}: {message}")
        self.status = status
        self.body = body


def client_certificate(ca_crt: str, ca_key: str, user: str) -> tuple[bytes, bytes]:
    """A client certificate for ``user`` in group system:masters, signed by the cluster CA."""
    ca = x509.load_pem_x509_certificate(ca_crt.encode())
    signer = serialization.load_pem_private_key(
        ca_key.encode().replace(b"ED25519 PRIVATE KEY", b"PRIVATE KEY"), None
    )
    assert isinstance(signer, ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey)
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(
            x509.Name(
                [
                    x509.NameAttribute(NameOID.ORGANIZATION_NAME, "system:masters"),
                    x509.NameAttribute(NameOID.COMMON_NAME, user),
                ]
            )
        )
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=365))
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .sign(signer, None if isinstance(signer, ed25519.Ed25519PrivateKey) else hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return cert.public_bytes(serialization.Encoding.PEM), key_pem


class KubeClient:
    """One controller identity talking to one lab API server."""

    def __init__(
        self,
        base_url: str,
        server_name: str,
        ca_crt: str,
        ca_key: str,
        *,
        user: str,
        field_manager: str,
        workdir: Path,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.server_name = server_name
        self.field_manager = field_manager
        cert, key = client_certificate(ca_crt, ca_key, user)
        workdir.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile("wb", dir=workdir, suffix=".pem", delete=False) as fh:
            fh.write(cert + key)
            bundle = fh.name
        self._ssl = ssl.create_default_context(cadata=ca_crt)
        self._ssl.load_cert_chain(bundle)
        Path(bundle).unlink()
        self._session: aiohttp.ClientSession | None = None
        self._kinds: dict[tuple[str, str], tuple[str, bool] | None] = {}

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=30),
                connector=aiohttp.TCPConnector(ssl=self._ssl, limit=4),
            )
        return self._session

    async def request(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        content_type: str = "application/json",
        query: dict[str, str] | None = None,
        allow_missing: bool = False,
    ) -> Any:
        headers = {"Accept": "application/json"}
        data = None
        if body is not None:
            headers["Content-Type"] = content_type
            data = json.dumps(body)
        async with self._http().request(
            method,
            self.base_url + path,
            data=data,
            headers=headers,
            params=query,
            server_hostname=self.server_name,
        ) as resp:
            text = await resp.text()
            try:
                payload = json.loads(text) if text else {}
            except ValueError:
                payload = text
            if resp.status == 404 and allow_missing:
                return None
            if resp.status >= 400:
                raise ApiError(resp.status, payload)
            return payload

    # ---- discovery -----------------------------------------------------------------------
    async def kind(self, api_version: str, kind: str) -> tuple[str, bool] | None:
        """(plural, namespaced), or None while the kind is not served."""
        key = (api_version, kind)
        if self._kinds.get(key) is not None:
            return self._kinds[key]
        prefix = "/api/v1" if api_version == "v1" else f"/apis/{api_version}"
        doc = await self.request("GET", prefix, allow_missing=True)
        # one discovery document names every kind of the group version: remember them all
        # (the apps controller asks for 23 kinds of apps.cozystack.io in a row)
        for res in (doc or {}).get("resources") or []:
            if res.get("kind") and "/" not in res.get("name", ""):
                self._kinds.setdefault(
                    (api_version, str(res["kind"])), (str(res["name"]), bool(res.get("namespaced")))
                )
        found = self._kinds.get(key)
        self._kinds[key] = found
        return found

    def forget_kinds(self) -> None:
        self._kinds = {k: v for k, v in self._kinds.items() if v is not None}

    async def _path(
        self, api_version: str, kind: str, namespace: str | None, name: str | None = None
    ) -> str | None:
        info = await self.kind(api_version, kind)
        if info is None:
            return None
        plural, namespaced = info
        prefix = "/api/v1" if api_version == "v1" else f"/apis/{api_version}"
        ns = f"/namespaces/{namespace}" if namespaced and namespace else ""
        return f"{prefix}{ns}/{plural}" + (f"/{name}" if name else "")

    # ---- objects -------------------------------------------------------------------------
    async def get(
        self, api_version: str, kind: str, name: str, namespace: str | None = None
    ) -> Obj | None:
        path = await self._path(api_version, kind, namespace, name)
        if path is None:
            return None
        found: Obj | None = await self.request("GET", path, allow_missing=True)
        return found

    async def list(
        self,
        api_version: str,
        kind: str,
        namespace: str | None = None,
        label_selector: str | None = None,
    ) -> list[Obj]:
        path = await self._path(api_version, kind, namespace)
        if path is None:
            return []
        query = {"labelSelector": label_selector} if label_selector else None
        doc = await self.request("GET", path, query=query, allow_missing=True)
        items = [i for i in (doc or {}).get("items") or [] if isinstance(i, dict)]
        for item in items:
            item.setdefault("apiVersion", api_version)
            item.setdefault("kind", kind)
        return items

    async def apply(self, obj: Obj) -> Obj | None:
        """Server-side apply as this controller; None while the kind is not served."""
        meta = obj["metadata"]
        path = await self._path(obj["apiVersion"], obj["kind"], meta.get("namespace"), meta["name"])
        if path is None:
            return None
        result: Obj = await self.request(
            "PATCH",
            path,
            body=obj,
            content_type="application/apply-patch+yaml",
            query={"fieldManager": self.field_manager, "force": "true"},
        )
        return result

    async def create(self, obj: Obj) -> Obj | None:
        """Create ``obj`` unless it exists (None then, or while the kind is not served): for a
        controller that must not overwrite what another writer made meanwhile."""
        meta = obj["metadata"]
        path = await self._path(obj["apiVersion"], obj["kind"], meta.get("namespace"))
        if path is None:
            return None
        try:
            made: Obj = await self.request(
                "POST", path, body=obj, query={"fieldManager": self.field_manager}
            )
        except ApiError as exc:
            if exc.status == 409:
                return None
            raise
        return made

    async def merge_patch(self, obj: Obj, patch: Obj) -> Obj | None:
        """A JSON merge patch (as controllers that update objects they do not own)."""
        meta = obj["metadata"]
        path = await self._path(obj["apiVersion"], obj["kind"], meta.get("namespace"), meta["name"])
        if path is None:
            return None
        result: Obj | None = await self.request(
            "PATCH",
            path,
            body=patch,
            content_type="application/merge-patch+json",
            query={"fieldManager": self.field_manager},
            allow_missing=True,
        )
        return result

    async def patch_status(self, obj: Obj, status: Obj) -> Obj | None:
        meta = obj["metadata"]
        path = await self._path(obj["apiVersion"], obj["kind"], meta.get("namespace"), meta["name"])
        if path is None:
            return None
        result: Obj | None = await self.request(
            "PATCH",
            path + "/status",
            body={"status": status},
            content_type="application/merge-patch+json",
            allow_missing=True,
        )
        return result

    async def delete(
        self, api_version: str, kind: str, name: str, namespace: str | None = None
    ) -> None:
        path = await self._path(api_version, kind, namespace, name)
        if path is not None:
            await self.request("DELETE", path, allow_missing=True)
