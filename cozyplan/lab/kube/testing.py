"""Start a lab cluster's API server without Talos (for tests of this and other areas).

    with InProcessLab(tmp / "lab", time_scale=0.01) as lab:
        cluster = start_cluster(lab)             # https://10.0.0.201:6443, one Ready node
        cluster.kubeconfig                       # the admin kubeconfig Talos would return
        cluster.loopback_kubeconfig              # the same, pointing at the loopback address
        set_cni_ready(lab, cluster.cluster_id, False)

The lab must run the ``KubeSimulator`` (e.g. ``runtime.simulator_classes`` patched to return it).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from cozyplan.lab.kube.cluster import KubeCluster
from cozyplan.lab.kube.simulator import KubeSimulator
from cozyplan.lab.runtime import InProcessLab
from cozyplan.lab.talos.pki import kubeconfig


def make_ca(name: str = "kubernetes") -> tuple[str, str]:
    """A Kubernetes CA (certificate PEM, key PEM) like the one in Talos secrets."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, name)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    return cert.public_bytes(serialization.Encoding.PEM).decode(), key_pem.decode()


@dataclass
class LabCluster:
    cluster_id: str
    endpoint: str  # as the spec names it, e.g. https://10.0.0.201:6443
    host: str  # the loopback address and port serving it
    port: int
    kubeconfig: str
    loopback_kubeconfig: str
    cluster: KubeCluster


def simulator(lab: InProcessLab) -> KubeSimulator:
    for sim in lab.runtime.simulators:
        if isinstance(sim, KubeSimulator):
            return sim
    raise LookupError("the lab does not run the Kubernetes simulator")


def on_lab(lab: InProcessLab, fn: Any, *args: Any, **kwargs: Any) -> Any:
    """Run ``fn`` (sync or coroutine function) on the lab's event loop; return its result."""

    async def call() -> Any:
        result = fn(*args, **kwargs)
        if asyncio.iscoroutine(result):
            result = await result
        return result

    return asyncio.run_coroutine_threadsafe(call(), lab.loop).result(60)


def start_cluster(
    lab: InProcessLab,
    endpoint: str = "https://10.0.0.201:6443",
    *,
    name: str = "lab",
    nodes: tuple[str, ...] = ("node-1",),
    cni_ready: bool = True,
) -> LabCluster:
    sim = simulator(lab)
    ca_crt, ca_key = make_ca()
    cluster_id = uuid.uuid4().hex
    for i, node in enumerate(nodes):
        role = "controlplane" if i == 0 else "worker"
        on_lab(lab, sim.add_node, cluster_id, node, ip=f"10.0.0.{201 + i}", role=role)
    if cni_ready:
        on_lab(lab, sim.set_cni_ready, cluster_id, True)
    cluster = on_lab(
        lab,
        sim.start_cluster,
        cluster_id,
        name=name,
        endpoint=endpoint,
        ca_crt=ca_crt,
        ca_key=ca_key,
    )
    text = kubeconfig(name, endpoint, ca_crt.encode(), ca_key.encode())
    loop_url = f"https://{cluster.loopback}:{cluster.real_port}"
    loopback = text.replace(f"server: {endpoint}", f"server: {loop_url}")
    return LabCluster(
        cluster_id, endpoint, cluster.loopback, cluster.real_port, text, loopback, cluster
    )


def set_cni_ready(lab: InProcessLab, cluster_id: str, ready: bool = True) -> None:
    on_lab(lab, simulator(lab).set_cni_ready, cluster_id, ready)
