"""Rendering a v1alpha1 machine config, like ``talosctl gen config`` for the Talos 1.10 contract.

The base documents follow ``pkg/machinery/config/generate`` (init.go for control planes,
worker.go for workers); CozyStack's required settings and the user's strategic-merge patches are
merged on top, then the result is validated (``validate.py``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

from cozyplan_talos import cozystack, patch, yamlio
from cozyplan_talos.pki import b64
from cozyplan_talos.secrets import Bundle
from cozyplan_talos.validate import validate

DEFAULT_TALOS_VERSION = "v1.10.6"
DEFAULT_KUBERNETES_VERSION = "1.33.3"
DEFAULT_INSTALL_DISK = "/dev/sda"

_POD_SECURITY = {
    "apiVersion": "pod-security.admission.config.k8s.io/v1alpha1",
    "defaults": {
        "audit": "restricted",
        "audit-version": "latest",
        "enforce": "baseline",
        "enforce-version": "latest",
        "warn": "restricted",
        "warn-version": "latest",
    },
    "exemptions": {"namespaces": ["kube-system"], "runtimeClasses": [], "usernames": []},
    "kind": "PodSecurityConfiguration",
}


@dataclass(frozen=True)
class Inputs:
    cluster_name: str
    endpoint: str
    machine_type: str  # controlplane | worker
    kubernetes_version: str = DEFAULT_KUBERNETES_VERSION
    install_disk: str = DEFAULT_INSTALL_DISK
    install_image: str = cozystack.INSTALL_IMAGE
    cert_sans: tuple[str, ...] = ()
    cozystack: bool = True
    #: the shared control-plane address (Talos VIP) the endpoint should name
    vip: str | None = None
    #: the nodes' network: kubelet node IP and etcd advertised addresses are taken from it
    node_subnet: str | None = None
    interface: str = "eth0"
    patches: tuple[str | dict[str, Any], ...] = field(default_factory=tuple)


def _base(bundle: Bundle, inp: Inputs) -> dict[str, Any]:
    k8s = inp.kubernetes_version.removeprefix("v")
    controlplane = inp.machine_type == "controlplane"
    host = urlparse(inp.endpoint).hostname or ""
    machine: dict[str, Any] = {
        "type": inp.machine_type,
        "token": bundle.trustd_token,
        "ca": bundle.os.b64() if controlplane else {"crt": bundle.os.b64()["crt"], "key": ""},
        "certSANs": list(inp.cert_sans),
        "kubelet": {
            "image": f"ghcr.io/siderolabs/kubelet:v{k8s}",
            "defaultRuntimeSeccompProfileEnabled": True,
            "disableManifestsDirectory": True,
        },
        "network": {},
        "install": {"disk": inp.install_disk, "image": inp.install_image, "wipe": False},
        "registries": {},
        "features": {
            "rbac": True,
            "stableHostname": True,
            "apidCheckExtKeyUsage": True,
            "diskQuotaSupport": True,
            "kubePrism": {"enabled": True, "port": 7445},
            "hostDNS": {"enabled": True, "forwardKubeDNSToHost": True},
        },
    }
    if controlplane:
        machine["nodeLabels"] = {"node.kubernetes.io/exclude-from-external-load-balancers": ""}
    cluster: dict[str, Any] = {
        "id": bundle.cluster_id,
        "secret": bundle.cluster_secret,
        "controlPlane": {"endpoint": inp.endpoint},
        "clusterName": inp.cluster_name,
        "network": {
            "dnsDomain": "cluster.local",
            "podSubnets": ["10.244.0.0/16"],
            "serviceSubnets": ["10.96.0.0/12"],
        },
        "token": bundle.bootstrap_token,
    }
    if not controlplane:
        cluster["ca"] = {"crt": bundle.k8s.b64()["crt"], "key": ""}
        cluster["discovery"] = _discovery()
    else:
        _controlplane_cluster(cluster, bundle, k8s, host)
    return {
        "version": "v1alpha1",
        "debug": False,
        "persist": True,
        "machine": machine,
        "cluster": cluster,
    }


def _controlplane_cluster(cluster: dict[str, Any], bundle: Bundle, k8s: str, host: str) -> None:
    """What only control planes carry: the Kubernetes CAs and keys, component images."""
    if bundle.secretbox_secret:
        cluster["secretboxEncryptionSecret"] = bundle.secretbox_secret
    else:
        cluster["aescbcEncryptionSecret"] = bundle.aescbc_secret
    cluster.update(
        {
            "ca": bundle.k8s.b64(),
            "aggregatorCA": bundle.k8s_aggregator.b64(),
            "serviceAccount": {"key": b64(bundle.k8s_service_account_key)},
            "apiServer": {
                "image": f"registry.k8s.io/kube-apiserver:v{k8s}",
                "certSANs": [host] if host else [],
                "disablePodSecurityPolicy": True,
                "admissionControl": [{"name": "PodSecurity", "configuration": _POD_SECURITY}],
                "auditPolicy": {
                    "apiVersion": "audit.k8s.io/v1",
                    "kind": "Policy",
                    "rules": [{"level": "Metadata"}],
                },
            },
            "controllerManager": {"image": f"registry.k8s.io/kube-controller-manager:v{k8s}"},
            "proxy": {"image": f"registry.k8s.io/kube-proxy:v{k8s}"},
            "scheduler": {"image": f"registry.k8s.io/kube-scheduler:v{k8s}"},
            "discovery": _discovery(),
            "etcd": {"ca": bundle.etcd.b64()},
            "extraManifests": [],
            "inlineManifests": [],
        }
    )


def _discovery() -> dict[str, Any]:
    return {"enabled": True, "registries": {"kubernetes": {"disabled": True}, "service": {}}}


def render_doc(bundle: Bundle, inp: Inputs) -> dict[str, Any]:
    """The merged config document (raises ValueError when it is invalid)."""
    if inp.machine_type not in ("controlplane", "worker"):
        raise ValueError(f"machine_type must be controlplane or worker, not {inp.machine_type!r}")
    doc = _base(bundle, inp)
    if inp.cozystack:
        extra = cozystack.patch(
            inp.machine_type, vip=inp.vip, node_subnet=inp.node_subnet, interface=inp.interface
        )
        doc = patch.merge(doc, extra)
    for i, raw in enumerate(inp.patches):
        try:
            doc = patch.merge(doc, patch.parse_patch(raw))
        except ValueError as exc:
            raise ValueError(f"patches[{i}]: {exc}") from None
    problems = validate(doc)
    if problems:
        raise ValueError("machine config is invalid: " + "; ".join(problems))
    return doc


def render(bundle: Bundle, inp: Inputs) -> str:
    return yamlio.dump(render_doc(bundle, inp))
