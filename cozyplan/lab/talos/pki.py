"""The simulated node's certificates: maintenance self-signed cert, apid cert from the OS CA,
and the admin kubeconfig signed by the Kubernetes CA."""

from __future__ import annotations

import base64
import datetime as dt
import gzip
import io
import ipaddress
import os
import ssl
import tarfile
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from ruamel.yaml import YAML

_NOENC = serialization.NoEncryption()


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)


def _load_key(pem: bytes) -> ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey:
    key = serialization.load_pem_private_key(
        pem.replace(b"ED25519 PRIVATE KEY", b"PRIVATE KEY"), None
    )
    assert isinstance(key, ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey)
    return key


def _sans(hosts: list[str]) -> x509.SubjectAlternativeName:
    out: list[x509.GeneralName] = []
    for h in hosts:
        try:
            out.append(x509.IPAddress(ipaddress.ip_address(h)))
        except ValueError:
            out.append(x509.DNSName(h))
    return x509.SubjectAlternativeName(out)


def _leaf(
    subject: x509.Name, issuer: x509.Name, public: object, signer: object, days: int
) -> x509.CertificateBuilder:
    now = dt.datetime.now(dt.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public)  # type: ignore[arg-type]
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=days))
    )


def write_server_cert(
    directory: Path, hosts: list[str], ca_crt: bytes | None, ca_key: bytes | None
) -> tuple[Path, Path]:
    """apid's server certificate (Ed25519): self-signed in maintenance, else from the OS CA."""
    directory.mkdir(parents=True, exist_ok=True)
    key = ed25519.Ed25519PrivateKey.generate()
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hosts[0])])
    signer: ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey = key
    issuer = name
    if ca_crt is not None and ca_key is not None:
        issuer, signer = x509.load_pem_x509_certificate(ca_crt).subject, _load_key(ca_key)
    builder = (
        _leaf(name, issuer, key.public_key(), signer, 365)
        .add_extension(_sans(hosts), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
    )
    algo = None if isinstance(signer, ed25519.Ed25519PrivateKey) else hashes.SHA256()
    cert = builder.sign(signer, algo)
    crt_path, key_path = directory / "apid.crt", directory / "apid.key"
    crt_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    _write_private(
        key_path,
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, _NOENC),
    )
    return crt_path, key_path


def server_context(crt: Path, key: Path, client_ca: bytes | None) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(crt, key)
    if client_ca is not None:
        ctx.load_verify_locations(cadata=client_ca.decode())
        ctx.verify_mode = ssl.CERT_REQUIRED
    ctx.set_alpn_protocols(["h2"])
    return ctx


def kubeconfig(cluster: str, endpoint: str, k8s_ca_crt: bytes, k8s_ca_key: bytes) -> str:
    """An admin kubeconfig, as Talos renders it (client cert O=system:masters, CN=admin)."""
    ca_cert = x509.load_pem_x509_certificate(k8s_ca_crt)
    signer = _load_key(k8s_ca_key)
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "system:masters"),
            x509.NameAttribute(NameOID.COMMON_NAME, "admin"),
        ]
    )
    algo = None if isinstance(signer, ed25519.Ed25519PrivateKey) else hashes.SHA256()
    cert = (
        _leaf(subject, ca_cert.subject, key.public_key(), signer, 365)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .sign(signer, algo)
    )

    def b64(data: bytes) -> str:
        return base64.b64encode(data).decode()

    user = f"admin@{cluster}"
    doc = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": cluster,
                "cluster": {"server": endpoint, "certificate-authority-data": b64(k8s_ca_crt)},
            }
        ],
        "users": [
            {
                "name": user,
                "user": {
                    "client-certificate-data": b64(cert.public_bytes(serialization.Encoding.PEM)),
                    "client-key-data": b64(
                        key.private_bytes(
                            serialization.Encoding.PEM,
                            serialization.PrivateFormat.TraditionalOpenSSL,
                            _NOENC,
                        )
                    ),
                },
            }
        ],
        "contexts": [
            {"name": user, "context": {"cluster": cluster, "namespace": "default", "user": user}}
        ],
        "current-context": user,
    }
    out = io.StringIO()
    y = YAML(typ="safe", pure=True)
    y.default_flow_style = False
    y.dump(doc, out)
    return out.getvalue()


def tar_gz(name: str, data: bytes) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tarfile.TarInfo(name)
        info.size = len(data)
        info.mode = 0o600
        tar.addfile(info, io.BytesIO(data))
    return gzip.compress(buf.getvalue())
