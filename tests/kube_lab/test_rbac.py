"""Client certificates outside system:masters are authorized by RBAC, with the real messages."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from kubernetes import client

from cozyplan.lab.kube.testing import LabCluster
from tests.kube_lab.helpers import error


def _user_client(cluster: LabCluster, tmp: Path, name: str, group: str) -> client.ApiClient:
    ca_cert = x509.load_pem_x509_certificate(cluster.cluster.record["ca_crt"].encode())
    ca_key = serialization.load_pem_private_key(cluster.cluster.record["ca_key"].encode(), None)
    assert isinstance(ca_key, ec.EllipticCurvePrivateKey)
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, group),
            x509.NameAttribute(NameOID.COMMON_NAME, name),
        ]
    )
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    (tmp / "ca.crt").write_text(cluster.cluster.record["ca_crt"])
    (tmp / "user.crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (tmp / "user.key").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    cfg = client.Configuration()
    cfg.host = f"https://{cluster.host}:{cluster.port}"
    cfg.ssl_ca_cert = str(tmp / "ca.crt")
    cfg.cert_file, cfg.key_file = str(tmp / "user.crt"), str(tmp / "user.key")
    return client.ApiClient(cfg)


def test_rbac(cluster: LabCluster, api: client.ApiClient, tmp_path: Path) -> None:
    jane = client.CoreV1Api(_user_client(cluster, tmp_path, "jane", "devs"))
    code, status = error(lambda: jane.list_namespaced_config_map("default"))
    assert (code, status["reason"]) == (403, "Forbidden")
    assert status["message"] == (
        'configmaps is forbidden: User "jane" cannot list resource "configmaps" in API group "" '
        'in the namespace "default"'
    )
    rbac = client.RbacAuthorizationV1Api(api)
    rule: dict[str, Any] = {
        "apiGroups": [""],
        "resources": ["configmaps"],
        "verbs": ["get", "list"],
    }
    rbac.create_namespaced_role("default", {"metadata": {"name": "read"}, "rules": [rule]})
    rbac.create_namespaced_role_binding(
        "default",
        {
            "metadata": {"name": "devs-read"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "read"},
            "subjects": [
                {"kind": "Group", "name": "devs", "apiGroup": "rbac.authorization.k8s.io"}
            ],
        },
    )
    assert jane.list_namespaced_config_map("default").items == []
    code, status = error(
        lambda: jane.create_namespaced_config_map("default", {"metadata": {"name": "x"}})
    )
    assert status["message"] == (
        'configmaps is forbidden: User "jane" cannot create resource "configmaps" in API group "" '
        'in the namespace "default"'
    )
    code, status = error(lambda: jane.list_namespace())
    assert status["message"] == (
        'namespaces is forbidden: User "jane" cannot list resource "namespaces" in API group "" '
        "at the cluster scope"
    )
