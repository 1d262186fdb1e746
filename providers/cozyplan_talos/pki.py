"""Certificates and keys the way Talos makes them (siderolabs/crypto x509).

* the OS (Talos API) CA and the admin client certificate use Ed25519 keys, PEM-armoured as
  ``ED25519 PRIVATE KEY`` (PKCS#8 inside);
* the Kubernetes, etcd and aggregator CAs and the service-account key are ECDSA P-256,
  armoured as ``EC PRIVATE KEY`` (SEC1);
* secrets.yaml and machine configs carry every PEM base64-encoded once more.
"""

from __future__ import annotations

import base64
import datetime as dt
import ipaddress
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

PrivateKey = ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey

CA_VALIDITY = dt.timedelta(hours=87600)  # secrets.CAValidityTime
CLIENT_VALIDITY = dt.timedelta(days=365)  # constants.TalosAPIDefaultCertificateValidityDuration

_ED_HEADER = b"ED25519 PRIVATE KEY"


@dataclass(frozen=True)
class CertAndKey:
    """PEM certificate + PEM key (``key`` may be empty, as in a worker's config)."""

    crt: bytes
    key: bytes

    def b64(self) -> dict[str, str]:
        return {"crt": b64(self.crt), "key": b64(self.key)}

    @classmethod
    def from_b64(cls, value: dict[str, str]) -> CertAndKey:
        return cls(unb64(value.get("crt", "")), unb64(value.get("key", "")))

    def certificate(self) -> x509.Certificate:
        return x509.load_pem_x509_certificate(self.crt)

    def private_key(self) -> PrivateKey:
        return load_private_key(self.key)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def unb64(text: str) -> bytes:
    return base64.b64decode(text.encode()) if text else b""


def key_pem(key: PrivateKey) -> bytes:
    if isinstance(key, ed25519.Ed25519PrivateKey):
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        return pem.replace(b"PRIVATE KEY", _ED_HEADER)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )


def load_private_key(pem: bytes) -> PrivateKey:
    """Load a Talos PEM key (accepts the nonstandard ``ED25519 PRIVATE KEY`` armour)."""
    key = serialization.load_pem_private_key(pem.replace(_ED_HEADER, b"PRIVATE KEY"), None)
    if not isinstance(key, ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey):
        raise ValueError(f"unsupported key type {type(key).__name__}")
    return key


def pkcs8_pem(pem: bytes) -> bytes:
    """Standard PKCS#8 PEM of a Talos key, as OpenSSL (Python's ssl) wants it."""
    return load_private_key(pem).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _sign_hash(key: PrivateKey) -> hashes.SHA256 | None:
    return None if isinstance(key, ed25519.Ed25519PrivateKey) else hashes.SHA256()


def _name(organization: list[str] | None, common_name: str | None) -> x509.Name:
    attrs = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, o) for o in organization or []]
    if common_name:
        attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, common_name))
    return x509.Name(attrs)


def new_ca(
    *,
    organization: str | None = None,
    common_name: str | None = None,
    ed25519_key: bool = False,
    now: dt.datetime | None = None,
) -> CertAndKey:
    """A self-signed CA like ``x509.NewSelfSignedCertificateAuthority``."""
    key: PrivateKey = (
        ed25519.Ed25519PrivateKey.generate()
        if ed25519_key
        else ec.generate_private_key(ec.SECP256R1())
    )
    now = now or dt.datetime.now(dt.UTC)
    name = _name([organization] if organization else None, common_name)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + CA_VALIDITY)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, _sign_hash(key))
    )
    return CertAndKey(cert.public_bytes(serialization.Encoding.PEM), key_pem(key))


def issue(
    ca: CertAndKey,
    *,
    organization: list[str] | None = None,
    common_name: str | None = None,
    hosts: list[str] | None = None,
    client: bool = False,
    server: bool = False,
    ed25519_key: bool = True,
    validity: dt.timedelta = CLIENT_VALIDITY,
    now: dt.datetime | None = None,
) -> CertAndKey:
    """A leaf certificate signed by ``ca``."""
    ca_key = ca.private_key()
    ca_cert = ca.certificate()
    key: PrivateKey = (
        ed25519.Ed25519PrivateKey.generate()
        if ed25519_key
        else ec.generate_private_key(ec.SECP256R1())
    )
    now = now or dt.datetime.now(dt.UTC)
    usages = []
    if server:
        usages.append(ExtendedKeyUsageOID.SERVER_AUTH)
    if client:
        usages.append(ExtendedKeyUsageOID.CLIENT_AUTH)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(organization, common_name))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + validity)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=False,
                crl_sign=False,
                content_commitment=False,
                key_encipherment=not ed25519_key,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
    )
    if usages:
        builder = builder.add_extension(x509.ExtendedKeyUsage(usages), critical=False)
    if hosts:
        sans: list[x509.GeneralName] = []
        for host in hosts:
            try:
                sans.append(x509.IPAddress(ipaddress.ip_address(host)))
            except ValueError:
                sans.append(x509.DNSName(host))
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    cert = builder.sign(ca_key, _sign_hash(ca_key))
    return CertAndKey(cert.public_bytes(serialization.Encoding.PEM), key_pem(key))


def admin_client_cert(os_ca: CertAndKey, *, roles: tuple[str, ...] = ("os:admin",)) -> CertAndKey:
    """The talosconfig client certificate (``NewAdminCertificateAndKey``): Ed25519, roles as O."""
    return issue(os_ca, organization=list(roles), client=True)
