"""The spec models of the capmox resources (Cluster API Proxmox v0.7.4, proxmox-csi v0.15)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field, field_validator, model_validator

from cozyplan.provider import Computed, RequiresReplace, Sensitive, SpecModel

R = RequiresReplace()

#: the runbook's Secret keys, which capmox never reads
RUNBOOK_KEYS = {
    "token_id": "capmox reads `token` (user@realm!tokenid), not `token_id`",
    "token_secret": "capmox reads `secret`, not `token_secret`",
}


class AclEntry(SpecModel):
    """One ACL entry of the token that a controller uses (``${proxmox_api_token.X.acl}``)."""

    path: str = "/"
    roles: list[str]
    propagate: bool = True


def base_url(value: str) -> str:
    """capmox's ``url``: the base https://HOST:8006; its client appends /api2/json."""
    if value.rstrip("/").endswith("/api2/json"):
        raise ValueError(
            f"{value!r} ends in /api2/json, but capmox appends /api2/json itself "
            "(its requests would go to /api2/json/api2/json); use https://HOST:8006"
        )
    if not value.startswith("https://"):
        raise ValueError(f"must be https://HOST:8006, got {value!r}")
    return value.rstrip("/")


def _token_id(value: str) -> str:
    if "!" not in value or "@" not in value.split("!", 1)[0]:
        raise ValueError(f"must be user@realm!tokenid, got {value!r}")
    return value


class CredentialsModel(SpecModel):
    """The Secret a ``ProxmoxCluster``'s ``credentialsRef`` names (keys url/token/secret)."""

    name: Annotated[str, R] = "capmox-credentials"
    namespace: Annotated[str, R] = "capmox-system"
    url: str = Field(description="base URL https://HOST:8006 (capmox appends /api2/json)")
    token: str = Field(
        description="user@realm!tokenid, e.g. ${proxmox_api_token.capmox.full_token_id}"
    )
    secret: Annotated[str, Sensitive()] = Field(description="the token's secret")
    insecure: bool = False
    root_ca_file: str | None = Field(
        None, description="PEM of the CA that signed Proxmox's certificate (relative to the spec)"
    )
    root_ca: Annotated[str | None, Computed()] = None

    @model_validator(mode="before")
    @classmethod
    def _runbook_keys(cls, data: Any) -> Any:
        if isinstance(data, dict):
            for key, why in RUNBOOK_KEYS.items():
                if key in data:
                    raise ValueError(f"unknown key {key!r}: {why}")
        return data

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        return base_url(value)

    @field_validator("token")
    @classmethod
    def _token(cls, value: str) -> str:
        return _token_id(value)


class ProviderModel(SpecModel):
    """capmox through CozyStack's Cluster API operator, plus the in-cluster IPAM provider."""

    version: Annotated[str, R] = "v0.7.4"
    namespace: Annotated[str, R] = "capmox-system"
    ipam_version: str = "v0.1.0"
    url: str = Field(description="base URL https://HOST:8006")
    token: str
    secret: Annotated[str, Sensitive()]
    timeout: float = Field(600.0, gt=0, description="seconds to wait for the controller")
    ready: bool = True

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        return base_url(value)

    @field_validator("token")
    @classmethod
    def _token(cls, value: str) -> str:
        return _token_id(value)


class WorkersModel(SpecModel):
    replicas: int = Field(ge=0)
    source_node: str
    template_id: int = Field(description="the proxmox_vm_template's vmid (a reference)")
    full: bool = True
    storage: str | None = None
    sockets: int = Field(1, ge=1)
    cores: int = Field(2, ge=1)
    memory_mib: int = Field(4096, ge=512)
    boot_disk: str = "scsi0"
    boot_size_gb: int = Field(20, ge=1)
    bridge: str = "vmbr0"
    model: str = "virtio"
    skip_qemu_guest_agent: bool = True
    skip_cloud_init_status: bool = True
    bootstrap_secret: str | None = Field(
        None, description="an existing bootstrap data Secret (default: one from bootstrap_data)"
    )


class ClusterModel(SpecModel):
    name: Annotated[str, R]
    namespace: Annotated[str, R] = "default"
    kubernetes_version: str = "v1.33.3"
    control_plane_endpoint: str = Field(description="host:port of the workload cluster's API")
    allowed_nodes: list[str] = Field(min_length=1)
    ipv4_addresses: list[str] = Field(min_length=1, description="ranges a.b.c.d-a.b.c.e or CIDRs")
    ipv4_prefix: int = Field(24, ge=1, le=32)
    gateway: str
    dns_servers: list[str] = Field(min_length=1)
    credentials: str = Field(description="namespace/name of the capmox_credentials Secret")
    workers: WorkersModel
    bootstrap_data: Annotated[str, Sensitive()] = Field(
        "", description="the workers' bootstrap data, e.g. a Talos worker machine config"
    )
    token_acl: list[AclEntry] | None = Field(
        None, description="the token's ACL (${proxmox_api_token.X.acl}) for plan warnings"
    )
    timeout: float = Field(1800.0, gt=0, description="seconds to wait for the machines")
    ready: bool = True
    machines: Annotated[list[str], Computed(stable=False)] = []
    addresses: Annotated[list[str], Computed(stable=False)] = []

    @field_validator("credentials")
    @classmethod
    def _ref(cls, value: str) -> str:
        if value.count("/") != 1:
            raise ValueError(f"must be NAMESPACE/NAME, got {value!r}")
        return value


class StorageClassModel(SpecModel):
    storage: str = Field(description="Proxmox storage id, e.g. local-lvm")
    fstype: str = "ext4"
    cache: str | None = None
    ssd: bool | None = None
    storage_format: str | None = None
    default: bool = False
    reclaim_policy: str = "Delete"


class CsiNode(SpecModel):
    """A Kubernetes node and the Proxmox node its VM runs on (``${proxmox_vm.X.node}``)."""

    zone: str


class CsiModel(SpecModel):
    namespace: Annotated[str, R] = "csi-proxmox"
    chart_version: str = "0.3.5"
    repository: str = "oci://ghcr.io/sergelogvinov/charts"
    region: str = Field(description="the Proxmox cluster's name in the config and node labels")
    url: str = Field(description="https://HOST:8006/api2/json (proxmox-csi does not append it)")
    insecure: bool = False
    token_id: str
    token_secret: Annotated[str, Sensitive()]
    nodes: dict[str, CsiNode] = Field(default_factory=dict, description="node name -> zone")
    storage_classes: dict[str, StorageClassModel] = Field(default_factory=dict)
    token_acl: list[AclEntry] | None = None
    timeout: float = Field(600.0, gt=0)
    ready: bool = True

    @field_validator("url")
    @classmethod
    def _api_url(cls, value: str) -> str:
        if not value.rstrip("/").endswith("/api2/json"):
            raise ValueError(
                f"{value!r}: proxmox-csi's clusters[].url must end in /api2/json "
                "(unlike capmox, it does not append it)"
            )
        return value.rstrip("/")

    @field_validator("token_id")
    @classmethod
    def _token(cls, value: str) -> str:
        return _token_id(value)
