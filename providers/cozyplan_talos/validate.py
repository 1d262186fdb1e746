"""Checks a rendered v1alpha1 machine config the way Talos's validator would reject it."""

from __future__ import annotations

import ipaddress
from typing import Any
from urllib.parse import urlparse

from cozyplan_talos import pki

_CNI = ("flannel", "custom", "none")


def _get(doc: Any, *path: str) -> Any:
    cur = doc
    for part in path:
        if not isinstance(cur, dict):
            return None
        cur = cur.get(part)
    return cur


def _check_pair(doc: Any, path: tuple[str, ...], need_key: bool, problems: list[str]) -> None:
    value = _get(doc, *path)
    where = ".".join(path)
    if not isinstance(value, dict) or not value.get("crt"):
        problems.append(f"{where}.crt is required")
        return
    try:
        pair = pki.CertAndKey.from_b64(value)
        pair.certificate()
        if need_key:
            pair.private_key()
    except ValueError as exc:
        problems.append(f"{where} is not a valid certificate/key: {exc}")


def _subnets(
    doc: Any, name: str, problems: list[str]
) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    value = _get(doc, "cluster", "network", name)
    nets: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
    if not isinstance(value, list) or not value:
        problems.append(f"cluster.network.{name} must list at least one CIDR")
        return nets
    for item in value:
        try:
            nets.append(ipaddress.ip_network(str(item)))
        except ValueError:
            problems.append(f"cluster.network.{name}: {item!r} is not a valid CIDR")
    return nets


def _subnet_or_address(value: Any) -> bool:
    text = str(value).removeprefix("!")
    try:
        ipaddress.ip_network(text, strict=False)
    except ValueError:
        return False
    return True


def _network(doc: Any, problems: list[str]) -> None:
    """Talos's kubelet, etcd and device checks (``v1alpha1_validation.go``), with its words."""
    for cidr in _get(doc, "machine", "kubelet", "nodeIP", "validSubnets") or []:
        if not _subnet_or_address(cidr):
            problems.append(f'kubelet nodeIP subnet is not valid: "{str(cidr).removeprefix("!")}"')
    etcd = _get(doc, "cluster", "etcd") or {}
    if isinstance(etcd, dict):
        if etcd.get("subnet") and etcd.get("advertisedSubnets"):
            problems.append("etcd subnet can't be set when advertised subnets are set")
        for cidr in etcd.get("advertisedSubnets") or []:
            if not _subnet_or_address(cidr):
                problems.append(
                    f'etcd advertised subnet is not valid: "{str(cidr).removeprefix("!")}"'
                )
    for device in _get(doc, "machine", "network", "interfaces") or []:
        vip = device.get("vip") if isinstance(device, dict) else None
        if isinstance(vip, dict):
            try:
                ipaddress.ip_address(str(vip.get("ip")))
            except ValueError:
                problems.append(
                    f'[networking.os.device.vip] failed to parse "{vip.get("ip")}" as IP address'
                )


def validate(doc: Any) -> list[str]:
    """Every problem found (empty when the config is valid)."""
    problems: list[str] = []
    if not isinstance(doc, dict):
        return ["machine config must be a YAML mapping"]
    if doc.get("version") != "v1alpha1":
        problems.append(f"version must be v1alpha1, not {doc.get('version')!r}")
    mtype = _get(doc, "machine", "type")
    if mtype not in ("controlplane", "worker", "init"):
        problems.append(f"machine.type must be controlplane or worker, not {mtype!r}")
    if not _get(doc, "machine", "token"):
        problems.append("machine.token is required")
    controlplane = mtype in ("controlplane", "init")
    _check_pair(doc, ("machine", "ca"), controlplane, problems)
    _check_pair(doc, ("cluster", "ca"), controlplane, problems)
    if controlplane:
        _check_pair(doc, ("cluster", "etcd", "ca"), True, problems)
        _check_pair(doc, ("cluster", "aggregatorCA"), True, problems)
        if not _get(doc, "cluster", "serviceAccount", "key"):
            problems.append("cluster.serviceAccount.key is required")
    install = _get(doc, "machine", "install")
    if isinstance(install, dict) and not (install.get("disk") or install.get("diskSelector")):
        problems.append("install disk or diskSelector should be defined")
    endpoint = _get(doc, "cluster", "controlPlane", "endpoint")
    parsed = urlparse(str(endpoint or ""))
    if parsed.scheme != "https" or not parsed.hostname:
        problems.append(f"cluster.controlPlane.endpoint must be an https URL, not {endpoint!r}")
    if not _get(doc, "cluster", "clusterName"):
        problems.append("cluster.clusterName is required")
    token = str(_get(doc, "cluster", "token") or "")
    if len(token.split(".")) != 2 or len(token) != 23:
        problems.append("cluster.token must look like [a-z0-9]{6}.[a-z0-9]{16}")
    pods = _subnets(doc, "podSubnets", problems)
    services = _subnets(doc, "serviceSubnets", problems)
    for p in pods:
        for s in services:
            if p.version == s.version and p.overlaps(s):
                problems.append(f"pod subnet {p} overlaps service subnet {s}")
    cni = _get(doc, "cluster", "network", "cni", "name")
    if cni is not None and cni not in _CNI:
        problems.append(f"cluster.network.cni.name must be one of {', '.join(_CNI)}, not {cni!r}")
    domain = _get(doc, "cluster", "network", "dnsDomain")
    if domain is not None and (not isinstance(domain, str) or not domain):
        problems.append("cluster.network.dnsDomain must be a non-empty name")
    _network(doc, problems)
    for i, module in enumerate(_get(doc, "machine", "kernel", "modules") or []):
        if not isinstance(module, dict) or not module.get("name"):
            problems.append(f"machine.kernel.modules[{i}].name is required")
    return problems
