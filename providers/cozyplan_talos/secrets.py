"""The cluster secrets bundle: what ``talosctl gen secrets`` makes, in its ``secrets.yaml`` form.

Generation follows ``pkg/machinery/config/generate/secrets`` (bundle.go, ca.go): etcd, Kubernetes
and aggregator CAs are ECDSA P-256, the OS (Talos API) CA is Ed25519, the service-account key is
ECDSA, tokens are ``[a-z0-9]{6}.[a-z0-9]{16}``, cluster id/secret and the secretbox key are 32
random bytes (id URL-safe base64, the others standard base64).
"""

from __future__ import annotations

import base64
import secrets as _random
import string
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec

from cozyplan_talos import pki, yamlio

_TOKEN_ALPHABET = string.ascii_lowercase + string.digits


def gen_token(first: int = 6, second: int = 16) -> str:
    def part(n: int) -> str:
        return "".join(_random.choice(_TOKEN_ALPHABET) for _ in range(n))

    return f"{part(first)}.{part(second)}"


@dataclass(frozen=True)
class Bundle:
    cluster_id: str
    cluster_secret: str
    bootstrap_token: str
    secretbox_secret: str
    trustd_token: str
    etcd: pki.CertAndKey
    k8s: pki.CertAndKey
    k8s_aggregator: pki.CertAndKey
    k8s_service_account_key: bytes
    os: pki.CertAndKey
    aescbc_secret: str = ""

    # -- secrets.yaml ---------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        secrets: dict[str, str] = {"bootstraptoken": self.bootstrap_token}
        if self.secretbox_secret:
            secrets["secretboxencryptionsecret"] = self.secretbox_secret
        if self.aescbc_secret:
            secrets["aescbcencryptionsecret"] = self.aescbc_secret
        return {
            "cluster": {"id": self.cluster_id, "secret": self.cluster_secret},
            "secrets": secrets,
            "trustdinfo": {"token": self.trustd_token},
            "certs": {
                "etcd": self.etcd.b64(),
                "k8s": self.k8s.b64(),
                "k8saggregator": self.k8s_aggregator.b64(),
                "k8sserviceaccount": {"key": pki.b64(self.k8s_service_account_key)},
                "os": self.os.b64(),
            },
        }

    def to_yaml(self) -> str:
        return yamlio.dump(self.to_dict())

    @classmethod
    def from_yaml(cls, text: str) -> Bundle:
        """Parse and validate a ``secrets.yaml`` (raises ValueError naming every problem)."""
        try:
            data = yamlio.load(text)
        except yamlio.YAMLError as exc:
            raise ValueError(f"secrets bundle is not valid YAML: {exc}") from None
        if not isinstance(data, dict):
            raise ValueError("secrets bundle must be a YAML mapping")
        errors: list[str] = []

        def get(*path: str) -> Any:
            cur: Any = data
            for p in path:
                cur = cur.get(p) if isinstance(cur, dict) else None
            return cur

        def need(*path: str) -> str:
            value = get(*path)
            if not isinstance(value, str) or not value:
                errors.append(f"{'.'.join(path)} is required")
                return ""
            return value

        def pair(name: str) -> pki.CertAndKey:
            value = get("certs", name)
            if not isinstance(value, dict):
                errors.append(f"certs.{name} is required")
                return pki.CertAndKey(b"", b"")
            try:
                got = pki.CertAndKey.from_b64(value)
                got.certificate()
                got.private_key()
            except ValueError as exc:
                errors.append(f"certs.{name} is invalid: {exc}")
                return pki.CertAndKey(b"", b"")
            return got

        secretbox = get("secrets", "secretboxencryptionsecret") or ""
        aescbc = get("secrets", "aescbcencryptionsecret") or ""
        if not secretbox and not aescbc:
            errors.append(
                "one of [secrets.secretboxencryptionsecret, secrets.aescbcencryptionsecret] "
                "is required"
            )
        sa_key = b""
        sa = get("certs", "k8sserviceaccount", "key")
        if not isinstance(sa, str) or not sa:
            errors.append("certs.k8sserviceaccount is required")
        else:
            try:
                sa_key = pki.unb64(sa)
                pki.load_private_key(sa_key)
            except ValueError as exc:
                errors.append(f"certs.k8sserviceaccount.key is invalid: {exc}")
        bundle = cls(
            cluster_id=need("cluster", "id"),
            cluster_secret=need("cluster", "secret"),
            bootstrap_token=need("secrets", "bootstraptoken"),
            secretbox_secret=str(secretbox),
            aescbc_secret=str(aescbc),
            trustd_token=need("trustdinfo", "token"),
            etcd=pair("etcd"),
            k8s=pair("k8s"),
            k8s_aggregator=pair("k8saggregator"),
            k8s_service_account_key=sa_key,
            os=pair("os"),
        )
        if errors:
            raise ValueError("invalid secrets bundle: " + "; ".join(errors))
        return bundle


def generate() -> Bundle:
    """A new bundle, as ``talosctl gen secrets`` (Talos >= 1.3 contract: secretbox, ECDSA SA)."""
    sa_key = ec.generate_private_key(ec.SECP256R1())
    return Bundle(
        cluster_id=base64.urlsafe_b64encode(_random.token_bytes(32)).decode(),
        cluster_secret=base64.b64encode(_random.token_bytes(32)).decode(),
        bootstrap_token=gen_token(),
        secretbox_secret=base64.b64encode(_random.token_bytes(32)).decode(),
        trustd_token=gen_token(),
        etcd=pki.new_ca(organization="etcd"),
        k8s=pki.new_ca(organization="kubernetes"),
        k8s_aggregator=pki.new_ca(common_name="front-proxy"),
        k8s_service_account_key=pki.key_pem(sa_key),
        os=pki.new_ca(organization="talos", ed25519_key=True),
    )
