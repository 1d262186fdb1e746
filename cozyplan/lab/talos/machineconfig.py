"""What a simulated Talos node understands of a machine config, and how it validates one.

Rejections carry Talos's wording ("configuration validation failed: ..."); the node extracts the
parts it serves with: its role, the OS CA (apid's TLS), the Kubernetes CA and the endpoint.
"""

from __future__ import annotations

import base64
import ipaddress
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

#: sections whose change needs a reboot; everything else applies in place
REBOOT_SECTIONS = (
    ("machine", "install"),
    ("machine", "kernel"),
    ("machine", "disks"),
    ("machine", "systemDiskEncryption"),
)


class ConfigRejected(ValueError):
    pass


@dataclass(frozen=True)
class NodeConfig:
    text: str
    doc: dict[str, Any]
    machine_type: str
    cluster_id: str
    cluster_name: str
    endpoint: str
    hostname: str | None
    os_ca_crt: bytes
    os_ca_key: bytes
    k8s_ca_crt: bytes
    k8s_ca_key: bytes

    @property
    def controlplane(self) -> bool:
        return self.machine_type in ("controlplane", "init")


def _get(doc: Any, *path: str) -> Any:
    for part in path:
        if not isinstance(doc, dict):
            return None
        doc = doc.get(part)
    return doc


def _pem(value: Any) -> bytes:
    return base64.b64decode(str(value or "").encode())


def _load_key(pem: bytes) -> None:
    serialization.load_pem_private_key(pem.replace(b"ED25519 PRIVATE KEY", b"PRIVATE KEY"), None)


def _bad_subnet(value: Any) -> bool:
    try:
        ipaddress.ip_network(str(value).removeprefix("!"), strict=False)
    except ValueError:
        return True
    return False


def _network_errors(doc: Any) -> list[str]:
    """Talos v1.10 ``v1alpha1_validation.go``: kubelet node IP, etcd subnets, VIP address."""
    errs = [
        f'kubelet nodeIP subnet is not valid: "{str(c).removeprefix("!")}"'
        for c in _get(doc, "machine", "kubelet", "nodeIP", "validSubnets") or []
        if _bad_subnet(c)
    ]
    if _get(doc, "cluster", "etcd", "subnet") and _get(doc, "cluster", "etcd", "advertisedSubnets"):
        errs.append("etcd subnet can't be set when advertised subnets are set")
    errs += [
        f'etcd advertised subnet is not valid: "{str(c).removeprefix("!")}"'
        for c in _get(doc, "cluster", "etcd", "advertisedSubnets") or []
        if _bad_subnet(c)
    ]
    for device in _get(doc, "machine", "network", "interfaces") or []:
        ip = _get(device, "vip", "ip")
        if isinstance(_get(device, "vip"), dict):
            try:
                ipaddress.ip_address(str(ip))
            except ValueError:
                errs.append(f'[networking.os.device.vip] failed to parse "{ip}" as IP address')
    return errs


def kernel_modules(cfg: NodeConfig) -> list[str]:
    return [
        str(m["name"])
        for m in _get(cfg.doc, "machine", "kernel", "modules") or []
        if isinstance(m, dict) and m.get("name")
    ]


def install_image(cfg: NodeConfig) -> str:
    return str(_get(cfg.doc, "machine", "install", "image") or "")


def vips(cfg: NodeConfig) -> list[str]:
    return [
        str(_get(d, "vip", "ip"))
        for d in _get(cfg.doc, "machine", "network", "interfaces") or []
        if _get(d, "vip", "ip")
    ]


def parse(data: bytes) -> NodeConfig:
    """Parse and validate; raises ConfigRejected with every problem found."""
    try:
        # the C parser: the pure-Python one made each node's boot take ~35 ms
        docs = [d for d in YAML(typ="safe").load_all(data.decode()) if d is not None]
    except (YAMLError, UnicodeDecodeError) as exc:
        raise ConfigRejected(f"failed to parse config: {exc}") from None
    doc = next((d for d in docs if isinstance(d, dict) and d.get("version") == "v1alpha1"), None)
    if doc is None:
        raise ConfigRejected("failed to parse config: no v1alpha1 document found")
    errs: list[str] = []
    mtype = _get(doc, "machine", "type")
    if mtype not in ("controlplane", "worker", "init"):
        errs.append(f"unknown machine type {mtype!r}")
    if not _get(doc, "machine", "token"):
        errs.append("machine.token is required")
    endpoint = str(_get(doc, "cluster", "controlPlane", "endpoint") or "")
    url = urlparse(endpoint)
    if url.scheme != "https" or not url.hostname:
        errs.append(f'cluster.controlPlane.endpoint is invalid: "{endpoint}"')
    install = _get(doc, "machine", "install")
    if isinstance(install, dict) and not (install.get("disk") or install.get("diskSelector")):
        errs.append("install disk or diskSelector should be defined")
    for key in ("podSubnets", "serviceSubnets"):
        for cidr in _get(doc, "cluster", "network", key) or []:
            try:
                ipaddress.ip_network(str(cidr))
            except ValueError:
                errs.append(f"cluster.network.{key}: invalid CIDR {cidr!r}")
    errs += _network_errors(doc)
    os_crt, os_key = (
        _pem(_get(doc, "machine", "ca", "crt")),
        _pem(_get(doc, "machine", "ca", "key")),
    )
    k8s_crt, k8s_key = (
        _pem(_get(doc, "cluster", "ca", "crt")),
        _pem(_get(doc, "cluster", "ca", "key")),
    )
    try:
        x509.load_pem_x509_certificate(os_crt)
        if mtype in ("controlplane", "init"):
            _load_key(os_key)
    except ValueError:
        errs.append("machine.ca is not a valid certificate/key pair")
    try:
        x509.load_pem_x509_certificate(k8s_crt)
        if mtype in ("controlplane", "init"):
            _load_key(k8s_key)
    except ValueError:
        errs.append("cluster.ca is not a valid certificate/key pair")
    if errs:
        lines = "".join(f"\n\t* {e}" for e in errs)
        n = len(errs)
        raise ConfigRejected(
            f"configuration validation failed: {n} error{'s' if n > 1 else ''} occurred:{lines}\n\n"
        )
    hostname = _get(doc, "machine", "network", "hostname")
    return NodeConfig(
        text=data.decode(),
        doc=doc,
        machine_type=str(mtype),
        cluster_id=str(_get(doc, "cluster", "id") or ""),
        cluster_name=str(_get(doc, "cluster", "clusterName") or ""),
        endpoint=endpoint,
        hostname=str(hostname) if hostname else None,
        os_ca_crt=os_crt,
        os_ca_key=os_key,
        k8s_ca_crt=k8s_crt,
        k8s_ca_key=k8s_key,
    )


def needs_reboot(old: NodeConfig, new: NodeConfig) -> list[str]:
    """The sections whose change cannot be applied in place."""
    return [".".join(p) for p in REBOOT_SECTIONS if _get(old.doc, *p) != _get(new.doc, *p)]
