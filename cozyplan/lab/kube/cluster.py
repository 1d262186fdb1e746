"""One simulated Kubernetes cluster: its store, its API server on the spec's endpoint (mapped to
loopback), its resource registry (built-ins + established CRDs) and its controllers."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import ipaddress
import ssl
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from cozyplan.lab.framework import LabWorld, cluster_topic, loopback_for
from cozyplan.lab.kube import authz, crd
from cozyplan.lab.kube.controllers.base import Controller
from cozyplan.lab.kube.faults import Faults
from cozyplan.lab.kube.http import Target, User
from cozyplan.lab.kube.resources import BUILTINS, ResourceType
from cozyplan.lab.kube.server import make_app
from cozyplan.lab.kube.store import SYSTEM_NAMESPACES, Store
from cozyplan.lab.kube.strategies import Strategy

if TYPE_CHECKING:
    from cozyplan.lab.kube.controllers.nodes import NodeController

Obj = dict[str, Any]
DEFAULT_PORT = 6443
SAVE_DELAY = 0.05  # real seconds a burst of writes may stay unsaved


def _server_cert(
    directory: Path, hosts: list[str], ca_crt: bytes, ca_key: bytes
) -> tuple[Path, Path]:
    """kube-apiserver's serving certificate, signed by the cluster's Kubernetes CA."""
    directory.mkdir(parents=True, exist_ok=True)
    ca = x509.load_pem_x509_certificate(ca_crt)
    signer = serialization.load_pem_private_key(
        ca_key.replace(b"ED25519 PRIVATE KEY", b"PRIVATE KEY"), None
    )
    assert isinstance(signer, ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey)
    key = ec.generate_private_key(ec.SECP256R1())
    sans: list[x509.GeneralName] = []
    for host in dict.fromkeys(hosts):
        try:
            sans.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            sans.append(x509.DNSName(host))
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kube-apiserver")]))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=365))
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(signer, None if isinstance(signer, ed25519.Ed25519PrivateKey) else hashes.SHA256())
    )
    crt_path, key_path = directory / "apiserver.crt", directory / "apiserver.key"
    crt_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM) + ca_crt)
    key_path.touch(mode=0o600)
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return crt_path, key_path


@dataclass(frozen=True)
class _Types:
    crd_writes: int  # the store's count of CRD writes they were built at
    registry: dict[str, ResourceType]
    served: list[ResourceType]


class KubeCluster:
    def __init__(self, world: LabWorld, cluster_id: str, record: dict[str, Any]) -> None:
        self.world = world
        self.id = cluster_id
        self.record = record
        parsed = urlparse(str(record["endpoint"]))
        self.host = parsed.hostname or "127.0.0.1"
        self.port = parsed.port or DEFAULT_PORT
        self.loopback = loopback_for(self.host)
        self.real_port = 0
        self.faults = Faults(world)
        self.requests: Counter[str] = Counter()
        self._save_handle: asyncio.TimerHandle | None = None
        self.store = Store(
            record.setdefault("store", {}),
            self._save_soon,
            self.registry,
            int(world.option("kubernetes", "watch_window", 1000) or 1000),
        )
        # every write wakes the lab's controllers of this cluster that wait for a change
        # (LabWorld.pulse), instead of their polling it
        topic = cluster_topic(cluster_id)
        self.store.listeners.append(lambda *_: world.pulse(topic))
        self._builtins = {f"{rt.group}/{rt.plural}": rt for rt in BUILTINS}
        self._types_cache: _Types | None = None
        self.controllers: list[Controller] = []
        #: (namespace, uid, reason, message) -> the Event that counts its repeats
        self.event_names: dict[tuple[str, str, str, str], str] = {}
        self._runner: web.AppRunner | None = None

    def _save_soon(self) -> None:
        """Writes come in bursts (a rollout is dozens): the world is saved once per burst."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self.world.save()
            return
        if self._save_handle is None:
            self._save_handle = loop.call_later(SAVE_DELAY, self._flush)

    def _flush(self) -> None:
        self._save_handle = None
        self.world.save()

    @property
    def name(self) -> str:
        return str(self.record.get("name", self.id))

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    # -- types ---------------------------------------------------------------------------------
    def _types(self) -> _Types:
        """The types of the CRDs as they are now: rebuilt after a write to any CRD (every
        request needs them; the ResourceTypes stay the same objects until then)."""
        crd_rt = self._builtins["apiextensions.k8s.io/customresourcedefinitions"]
        writes = self.store.writes(crd_rt)
        if self._types_cache is None or self._types_cache.crd_writes != writes:
            registry = dict(self._builtins)
            for rt in crd.served_types(self.store, crd_rt):
                registry.setdefault(f"{rt.group}/{rt.plural}", rt)
            served = [*self._builtins.values()]
            served += crd.served_types(self.store, crd_rt, all_versions=True)
            self._types_cache = _Types(writes, registry, served)
        return self._types_cache

    def registry(self) -> dict[str, ResourceType]:
        """Storage types by ``group/plural``: built-ins and every established CRD."""
        return dict(self._types().registry)

    def served(self) -> list[ResourceType]:
        """Every served type: built-ins and each served version of every established CRD."""
        return list(self._types().served)

    def strategy(self, rt: ResourceType) -> Strategy:
        return self.store.strategy(rt)

    def admit(self, rt: ResourceType, body: Obj) -> Obj:
        """Custom resources are validated, pruned and defaulted against their schema."""
        if rt.custom:
            return crd.admit(rt, body)
        return body

    def authorize(self, user: User, method: str, target: Target, watching: bool) -> None:
        authz.authorize(self.store, user, method, target, watching)

    def default_propagation(self, rt: ResourceType) -> str:
        return "Background"

    # -- lifecycle -----------------------------------------------------------------------------
    def _seed(self) -> None:
        ns_rt = self._builtins["/namespaces"]
        for ns in SYSTEM_NAMESPACES:
            if self.store.find(ns_rt, "", ns) is None:
                self.store.create(ns_rt, "", {"metadata": {"name": ns}}, "kube-apiserver")
        svc = self._builtins["/services"]
        if self.store.find(svc, "default", "kubernetes") is None:
            self.store.create(
                svc,
                "default",
                {
                    "metadata": {
                        "name": "kubernetes",
                        "labels": {"component": "apiserver", "provider": "kubernetes"},
                    },
                    "spec": {
                        "ports": [{"name": "https", "port": 443, "targetPort": 6443}],
                        "clusterIP": "10.96.0.1",
                    },
                },
                "kube-apiserver",
            )
        api_rt = self._builtins["apiregistration.k8s.io/apiservices"]
        for rt in BUILTINS:
            name = f"{rt.version}.{rt.group}" if rt.group else rt.version
            if self.store.find(api_rt, "", name) is None:
                self.store.create(
                    api_rt,
                    "",
                    {
                        "metadata": {
                            "name": name,
                            "labels": {"kube-aggregator.kubernetes.io/automanaged": "onstart"},
                        },
                        "spec": {
                            "group": rt.group,
                            "version": rt.version,
                            "groupPriorityMinimum": 18000,
                            "versionPriority": 15,
                        },
                    },
                    "kube-apiserver",
                )
                made = self.store.get(api_rt, "", name)
                made["status"] = {
                    "conditions": [
                        {
                            "type": "Available",
                            "status": "True",
                            "lastTransitionTime": made["metadata"]["creationTimestamp"],
                            "reason": "Local",
                            "message": "Local APIServices are always available",
                        }
                    ]
                }
                self.store.update(api_rt, "", name, made, "kube-apiserver", subresource="status")

    def ssl_context(self) -> ssl.SSLContext:
        ca_crt = str(self.record["ca_crt"]).encode()
        ca_key = str(self.record["ca_key"]).encode()
        hosts = [
            self.host,
            self.loopback,
            "kubernetes",
            "kubernetes.default",
            "kubernetes.default.svc",
            "kubernetes.default.svc.cluster.local",
            "localhost",
            "127.0.0.1",
            "10.96.0.1",
        ]
        crt, key = _server_cert(self.world.dir / "kube" / self.id, hosts, ca_crt, ca_key)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.load_cert_chain(crt, key)
        ctx.load_verify_locations(cadata=ca_crt.decode())
        ctx.verify_mode = (
            ssl.CERT_OPTIONAL
        )  # anonymous requests get 401, as with --anonymous-auth=false
        ctx.set_alpn_protocols(["http/1.1"])
        return ctx

    async def start(self) -> None:
        from cozyplan.lab.kube.controllers import all_controllers

        self._seed()
        self._runner = web.AppRunner(make_app(self), access_log=None, handle_signals=False)
        await self._runner.setup()
        ctx = self.ssl_context()
        try:
            site = web.TCPSite(self._runner, self.loopback, self.port, ssl_context=ctx)
            await site.start()
        except OSError:
            site = web.TCPSite(self._runner, self.loopback, 0, ssl_context=ctx)
            await site.start()
        sockets = getattr(site._server, "sockets", None) or []
        self.real_port = int(sockets[0].getsockname()[1]) if sockets else self.port
        self.world.register_endpoint(
            "kubernetes", self.host, self.port, self.loopback, self.real_port
        )
        if (self.loopback, self.real_port) != (self.host, self.port):
            self.world.register_endpoint(
                "kubernetes", self.loopback, self.real_port, self.loopback, self.real_port
            )
        self.controllers = [cls(self) for cls in all_controllers()]
        for c in self.controllers:
            c.start()
        self.world.save()

    async def stop(self) -> None:
        for c in self.controllers:
            await c.stop()
        self.controllers = []
        self.store.close_watchers()
        if self._runner is not None:
            with contextlib.suppress(Exception):
                await self._runner.cleanup()
            self._runner = None
        self.world.unregister_endpoint("kubernetes", self.host, self.port)
        self.world.unregister_endpoint("kubernetes", self.loopback, self.real_port)
        if self._save_handle is not None:
            self._save_handle.cancel()
            self._save_handle = None
        self.world.save()

    # -- hooks ---------------------------------------------------------------------------------
    def node_controller(self) -> NodeController:
        from cozyplan.lab.kube.controllers.nodes import NodeController

        for c in self.controllers:
            if isinstance(c, NodeController):
                return c
        raise LookupError("the node controller is not running")

    def status(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "endpoint": f"https://{self.address}",
            "served_at": f"https://{self.loopback}:{self.real_port}",
            "objects": len(self.store.objects),
            "resource_version": self.store.rv,
            "requests_total": sum(self.requests.values()),
            "faults_injected": dict(self.faults.injected),
        }
