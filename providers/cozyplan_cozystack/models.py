"""The spec models of the cozystack resources."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field

from cozyplan.provider import Computed, RequiresReplace, SpecModel
from cozyplan_cozystack.configmap import CozystackConfigMap

DEFAULT_VERSION = "v0.37.2"


class PlatformModel(SpecModel):
    version: str = Field(DEFAULT_VERSION, description="CozyStack release (known: v0.37.2)")
    config: CozystackConfigMap = Field(description="the ConfigMap cozy-system/cozystack, by key")
    timeout: float = Field(1800.0, gt=0, description="seconds to wait for every HelmRelease")
    #: false while a HelmRelease the bundle asks for is not Ready (drift; apply waits again)
    ready: bool = True
    helmreleases: Annotated[list[str], Computed()] = []


class NetworkingModel(SpecModel):
    addresses: list[str] = Field(description="MetalLB pool: CIDRs or ranges a.b.c.d-a.b.c.e")
    name: Annotated[str, RequiresReplace()] = "cozystack"
    namespace: Annotated[str, RequiresReplace()] = "cozy-metallb"


class TenantModel(SpecModel):
    name: Annotated[str, RequiresReplace()] = Field(description="root or a child tenant name")
    namespace: Annotated[str, RequiresReplace()] = "tenant-root"
    values: dict[str, Any] = Field(default_factory=dict, description="the Tenant app's spec")
    timeout: float = Field(900.0, gt=0)
    ready: bool = True


class AppModel(SpecModel):
    kind: Annotated[str, RequiresReplace()] = Field(description="an apps.cozystack.io kind")
    name: Annotated[str, RequiresReplace()]
    namespace: Annotated[str, RequiresReplace()] = Field(description="a tenant namespace")
    version: str = DEFAULT_VERSION
    spec: dict[str, Any] = Field(default_factory=dict)
    #: Kubernetes apps: write the admin kubeconfig here (mode 0600)
    kubeconfig_path: str | None = None
    timeout: float = Field(1800.0, gt=0)
    ready: bool = True


class StorageNode(SpecModel):
    #: the node's Proxmox VM disks, e.g. ``${proxmox_vm.cp[cp1].disks}``
    disks: list[dict[str, Any]]


class StorageModel(SpecModel):
    #: Kubernetes node name -> its VM's disks
    nodes: dict[str, StorageNode]
    data_disk: str = Field("scsi1", description="the VM disk slot LINSTOR gets")
    pool: str = Field("data", description="LINSTOR storage pool and ZFS pool name")
    version: str = DEFAULT_VERSION
    timeout: float = Field(900.0, gt=0)
    #: false while a satellite is not Online or its pool is missing (drift; apply waits again)
    ready: bool = True
    #: node -> the data disk's device in the guest
    devices: Annotated[dict[str, str], Computed()] = {}
