"""The Kubernetes objects each capmox resource stands for (pure: model -> manifests).

Kinds and fields are Cluster API's (``cluster.x-k8s.io/v1beta1``), capmox v0.7.4's
(``infrastructure.cluster.x-k8s.io/v1alpha1``, CRDs in ``/capmox-v0.7.4``), the Cluster API
operator's (``operator.cluster.x-k8s.io/v1alpha2``) and Flux's.
"""

from __future__ import annotations

import base64
from typing import Any

import yaml

from cozyplan_capmox.models import ClusterModel, CredentialsModel, CsiModel, ProviderModel

Obj = dict[str, Any]

CAPI = "cluster.x-k8s.io/v1beta1"
INFRA = "infrastructure.cluster.x-k8s.io/v1alpha1"
OPERATOR = "operator.cluster.x-k8s.io/v1alpha2"
HELMRELEASE = "helm.toolkit.fluxcd.io/v2"
HELMREPO = "source.toolkit.fluxcd.io/v1"
CSI_PROVISIONER = "csi.proxmox.sinextra.dev"
REGION_LABEL = "topology.kubernetes.io/region"
ZONE_LABEL = "topology.kubernetes.io/zone"
IPAM_NAMESPACE = "capi-ipam-in-cluster-system"
CAPMOX_DEPLOYMENT = "capmox-controller-manager"


def b64(value: str) -> str:
    return base64.b64encode(value.encode()).decode()


def secret(
    name: str, namespace: str, data: dict[str, str], labels: dict[str, str] | None = None
) -> Obj:
    meta: Obj = {"name": name, "namespace": namespace}
    if labels:
        meta["labels"] = labels
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": meta,
        "type": "Opaque",
        "data": {k: b64(v) for k, v in sorted(data.items())},
    }


def namespace(name: str, privileged: bool = False) -> Obj:
    meta: Obj = {"name": name}
    if privileged:
        meta["labels"] = {
            "pod-security.kubernetes.io/enforce": "privileged",
            "pod-security.kubernetes.io/audit": "privileged",
            "pod-security.kubernetes.io/warn": "privileged",
        }
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": meta}


# ---- capmox_credentials ---------------------------------------------------------------------
def credentials_data(m: CredentialsModel) -> dict[str, str]:
    """The keys ``pkg/scope/cluster.go`` reads. ``insecure`` is always written: capmox treats
    an unset ``insecure`` as true (its pre-v0.7 behaviour)."""
    data = {"url": m.url, "token": m.token, "secret": m.secret, "insecure": str(m.insecure).lower()}
    if m.root_ca:
        data["root_ca"] = m.root_ca
    return data


def credentials(m: CredentialsModel) -> Obj:
    return secret(m.name, m.namespace, credentials_data(m))


# ---- capmox_provider ------------------------------------------------------------------------
def provider_objects(m: ProviderModel) -> list[Obj]:
    """The operator's ``configSecret`` holds the variables clusterctl substitutes into capmox's
    components (``PROXMOX_URL``, ``PROXMOX_TOKEN``, ``PROXMOX_SECRET``: the controller's
    default credentials)."""
    variables = secret(
        "capmox-variables",
        m.namespace,
        {"PROXMOX_URL": m.url, "PROXMOX_TOKEN": m.token, "PROXMOX_SECRET": m.secret},
    )
    return [
        namespace(m.namespace),
        variables,
        {
            "apiVersion": OPERATOR,
            "kind": "InfrastructureProvider",
            "metadata": {"name": "proxmox", "namespace": m.namespace},
            "spec": {
                "version": m.version,
                "configSecret": {"name": "capmox-variables", "namespace": m.namespace},
            },
        },
        namespace(IPAM_NAMESPACE),
        {
            "apiVersion": OPERATOR,
            "kind": "IPAMProvider",
            "metadata": {"name": "in-cluster", "namespace": IPAM_NAMESPACE},
            "spec": {"version": m.ipam_version},
        },
    ]


# ---- proxmox_cluster ------------------------------------------------------------------------
def _endpoint(text: str) -> Obj:
    host, _, port = text.rpartition(":")
    return {"host": host, "port": int(port)}


def cluster_objects(m: ClusterModel) -> list[Obj]:
    name, ns = m.name, m.namespace
    cred_ns, cred_name = m.credentials.split("/", 1)
    labels = {"cluster.x-k8s.io/cluster-name": name}
    w = m.workers
    machine_spec: Obj = {
        "sourceNode": w.source_node,
        "templateID": w.template_id,
        "full": w.full,
        "numSockets": w.sockets,
        "numCores": w.cores,
        "memoryMiB": w.memory_mib,
        "disks": {"bootVolume": {"disk": w.boot_disk, "sizeGb": w.boot_size_gb}},
        "network": {"default": {"bridge": w.bridge, "model": w.model}},
        "checks": {
            "skipQemuGuestAgent": w.skip_qemu_guest_agent,
            "skipCloudInitStatus": w.skip_cloud_init_status,
        },
    }
    if w.storage:
        machine_spec["storage"] = w.storage
    md_name = f"{name}-workers"
    return [
        {
            "apiVersion": INFRA,
            "kind": "ProxmoxCluster",
            "metadata": {"name": name, "namespace": ns, "labels": labels},
            "spec": {
                "controlPlaneEndpoint": _endpoint(m.control_plane_endpoint),
                "allowedNodes": list(m.allowed_nodes),
                "ipv4Config": {
                    "addresses": list(m.ipv4_addresses),
                    "prefix": m.ipv4_prefix,
                    "gateway": m.gateway,
                },
                "dnsServers": list(m.dns_servers),
                "credentialsRef": {"name": cred_name, "namespace": cred_ns},
            },
        },
        {
            "apiVersion": CAPI,
            "kind": "Cluster",
            "metadata": {"name": name, "namespace": ns, "labels": labels},
            "spec": {
                "controlPlaneEndpoint": _endpoint(m.control_plane_endpoint),
                "infrastructureRef": {"apiVersion": INFRA, "kind": "ProxmoxCluster", "name": name},
            },
        },
        {
            "apiVersion": INFRA,
            "kind": "ProxmoxMachineTemplate",
            "metadata": {"name": md_name, "namespace": ns, "labels": labels},
            "spec": {"template": {"spec": machine_spec}},
        },
        {
            "apiVersion": CAPI,
            "kind": "MachineDeployment",
            "metadata": {"name": md_name, "namespace": ns, "labels": labels},
            "spec": {
                "clusterName": name,
                "replicas": w.replicas,
                "selector": {
                    "matchLabels": {**labels, "cluster.x-k8s.io/deployment-name": md_name}
                },
                "template": {
                    "metadata": {"labels": {**labels, "cluster.x-k8s.io/deployment-name": md_name}},
                    "spec": {
                        "clusterName": name,
                        "version": m.kubernetes_version,
                        "bootstrap": {"dataSecretName": bootstrap_secret_name(m)},
                        "infrastructureRef": {
                            "apiVersion": INFRA,
                            "kind": "ProxmoxMachineTemplate",
                            "name": md_name,
                        },
                    },
                },
            },
        },
    ]


def bootstrap_secret_name(m: ClusterModel) -> str:
    return m.workers.bootstrap_secret or f"{m.name}-workers-bootstrap"


def bootstrap_secret(m: ClusterModel, data: str) -> Obj:
    """A static bootstrap data Secret (CAPI reads key ``value``, ``format``)."""
    obj = secret(
        bootstrap_secret_name(m),
        m.namespace,
        {"value": data, "format": "cloud-config"},
        {"cluster.x-k8s.io/cluster-name": m.name},
    )
    obj["type"] = "cluster.x-k8s.io/secret"
    return obj


# ---- proxmox_csi ----------------------------------------------------------------------------
def csi_config(m: CsiModel) -> str:
    """The plugin's ``config.yaml`` (its ``clusters[]``)."""
    doc = {
        "clusters": [
            {
                "url": m.url,
                "insecure": m.insecure,
                "token_id": m.token_id,
                "token_secret": m.token_secret,
                "region": m.region,
            }
        ]
    }
    return str(yaml.safe_dump(doc, sort_keys=False))


def storage_class(name: str, sc: Any) -> Obj:
    params: dict[str, str] = {"csi.storage.k8s.io/fstype": sc.fstype, "storage": sc.storage}
    if sc.cache:
        params["cache"] = sc.cache
    if sc.ssd is not None:
        params["ssd"] = str(sc.ssd).lower()
    if sc.storage_format:
        params["storageFormat"] = sc.storage_format
    meta: Obj = {"name": name}
    if sc.default:
        meta["annotations"] = {"storageclass.kubernetes.io/is-default-class": "true"}
    return {
        "apiVersion": "storage.k8s.io/v1",
        "kind": "StorageClass",
        "metadata": meta,
        "provisioner": CSI_PROVISIONER,
        "parameters": params,
        "reclaimPolicy": sc.reclaim_policy,
        "volumeBindingMode": "WaitForFirstConsumer",  # the chart hard-codes it
        "allowVolumeExpansion": True,
    }


def csi_objects(m: CsiModel) -> list[Obj]:
    """Namespace, config Secret, HelmRepository + HelmRelease (chart ``existingConfigSecret``),
    StorageClasses. Node labels are applied separately (their owner is the kubelet's Node)."""
    return [
        namespace(m.namespace, privileged=True),
        secret("proxmox-csi-plugin", m.namespace, {"config.yaml": csi_config(m)}),
        {
            "apiVersion": HELMREPO,
            "kind": "HelmRepository",
            "metadata": {"name": "proxmox-csi", "namespace": m.namespace},
            "spec": {"type": "oci", "url": m.repository, "interval": "1h"},
        },
        {
            "apiVersion": HELMRELEASE,
            "kind": "HelmRelease",
            "metadata": {"name": "proxmox-csi-plugin", "namespace": m.namespace},
            "spec": {
                "interval": "10m",
                "chart": {
                    "spec": {
                        "chart": "proxmox-csi-plugin",
                        "version": m.chart_version,
                        "sourceRef": {"kind": "HelmRepository", "name": "proxmox-csi"},
                    }
                },
                "values": {
                    "existingConfigSecret": "proxmox-csi-plugin",
                    "existingConfigSecretKey": "config.yaml",
                    "storageClass": [],
                },
            },
        },
        *(storage_class(name, sc) for name, sc in sorted(m.storage_classes.items())),
    ]


def node_labels(m: CsiModel, node: str) -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": node,
            "labels": {REGION_LABEL: m.region, ZONE_LABEL: m.nodes[node].zone},
        },
    }
